// The benchmark's TypeScript SDK subject: an MCP server with one tool, echo,
// that returns its "text" argument, built on @modelcontextprotocol/sdk (pinned
// in package.json). bench/run.sh loads it beside mcp-2coffee and the go-sdk
// echo server.
//
//   node bench/ts-echo.mjs --stateless --port 0   Streamable HTTP, a new server and transport per request
//   node bench/ts-echo.mjs --stateful --port 0    Streamable HTTP, one server and transport per session
//   node bench/ts-echo.mjs --stdio                stdin and stdout
//
// HTTP answers are JSON (enableJsonResponse), as the go-sdk echo server's are.
// It listens on 127.0.0.1 only and prints "listening on URL" to stderr once
// the port is bound.
import { randomUUID } from "node:crypto";
import http from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";

const args = process.argv.slice(2);
const mode = args.includes("--stdio") ? "stdio" : args.includes("--stateful") ? "stateful" : "stateless";
const portIndex = args.indexOf("--port");
const port = portIndex >= 0 ? Number(args[portIndex + 1]) : 0;

// newServer builds the low-level SDK server with the echo tool; the low-level
// API keeps the tool's schema plain JSON Schema, with no zod import here.
function newServer() {
  const server = new Server({ name: "bench-ts-echo", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        name: "echo",
        description: "Return the text given.",
        inputSchema: { type: "object", properties: { text: { type: "string" } } },
      },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    if (request.params.name !== "echo") {
      return { content: [{ type: "text", text: `unknown tool ${request.params.name}` }], isError: true };
    }
    const text = String(request.params.arguments?.text ?? "");
    return { content: [{ type: "text", text }] };
  });
  return server;
}

if (mode === "stdio") {
  await newServer().connect(new StdioServerTransport());
} else {
  // Transports of the open sessions, by Mcp-Session-Id (stateful mode only).
  const sessions = new Map();

  // readBody reads the whole request body and parses it as JSON (undefined
  // when empty, so the transport answers a malformed request itself).
  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        try {
          resolve(raw === "" ? undefined : JSON.parse(raw));
        } catch (err) {
          reject(err);
        }
      });
      req.on("error", reject);
    });
  }

  function reply(res, status, message) {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
  }

  async function handle(req, res) {
    if (new URL(req.url, "http://127.0.0.1").pathname !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    const body = req.method === "POST" ? await readBody(req) : undefined;
    if (mode === "stateless") {
      const server = newServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on("close", () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    const id = req.headers["mcp-session-id"];
    if (id !== undefined) {
      const transport = sessions.get(id);
      if (!transport) {
        reply(res, 404, "unknown session");
        return;
      }
      await transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      reply(res, 400, "no session: send initialize first");
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (sid) => sessions.set(sid, transport),
      onsessionclosed: (sid) => sessions.delete(sid),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await newServer().connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) reply(res, 500, String(err?.message ?? err));
      else res.end();
    });
  });
  httpServer.listen(port, "127.0.0.1", () => {
    process.stderr.write(`listening on http://127.0.0.1:${httpServer.address().port}/mcp\n`);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      httpServer.close();
      process.exit(0);
    });
  }
}
