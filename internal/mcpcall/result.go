package mcpcall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Result is the outcome of one operation.
type Result struct {
	// Method is the request's method.
	Method string
	// Result is the go-sdk result value (e.g. *mcp.CallToolResult).
	Result any
	// IsError is set when a tool reported failure (isError: true); the
	// command should exit non-zero after printing the result.
	IsError bool
}

// JSON renders the result as indented JSON, as the protocol carries it.
func (r *Result) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.Result); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Text renders the result for people (--format text).
func (r *Result) Text() string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	switch res := r.Result.(type) {
	case *mcp.ListToolsResult:
		fmt.Fprintln(tw, "NAME\tDESCRIPTION")
		for _, t := range res.Tools {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, firstLine(t.Description))
		}
	case *mcp.CallToolResult:
		tw.Flush()
		if r.IsError {
			b.WriteString("error: ")
		}
		writeContent(&b, res.Content)
		if res.StructuredContent != nil && len(res.Content) == 0 {
			data, _ := json.MarshalIndent(res.StructuredContent, "", "  ")
			b.Write(data)
			b.WriteByte('\n')
		}
	case *mcp.ListResourcesResult:
		fmt.Fprintln(tw, "URI\tNAME\tTYPE")
		for _, x := range res.Resources {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.URI, x.Name, x.MIMEType)
		}
	case *mcp.ListResourceTemplatesResult:
		fmt.Fprintln(tw, "URI TEMPLATE\tNAME\tTYPE")
		for _, x := range res.ResourceTemplates {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.URITemplate, x.Name, x.MIMEType)
		}
	case *mcp.ReadResourceResult:
		for _, c := range res.Contents {
			if c.Blob != nil {
				fmt.Fprintf(&b, "[%s: %d bytes of %s]\n", c.URI, len(c.Blob), orUnknown(c.MIMEType))
				continue
			}
			b.WriteString(c.Text)
			if !strings.HasSuffix(c.Text, "\n") {
				b.WriteByte('\n')
			}
		}
	case *mcp.ListPromptsResult:
		fmt.Fprintln(tw, "NAME\tARGUMENTS\tDESCRIPTION")
		for _, p := range res.Prompts {
			var names []string
			for _, a := range p.Arguments {
				n := a.Name
				if a.Required {
					n += "*"
				}
				names = append(names, n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, strings.Join(names, " "), firstLine(p.Description))
		}
	case *mcp.GetPromptResult:
		if res.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", res.Description)
		}
		for _, m := range res.Messages {
			fmt.Fprintf(&b, "%s: ", m.Role)
			writeContent(&b, []mcp.Content{m.Content})
		}
	default:
		data, _ := json.MarshalIndent(r.Result, "", "  ")
		b.Write(data)
		b.WriteByte('\n')
	}
	tw.Flush()
	return b.String()
}

func writeContent(b *bytes.Buffer, content []mcp.Content) {
	for _, c := range content {
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(b, "[image: %d bytes of %s]", len(c.Data), orUnknown(c.MIMEType))
		case *mcp.AudioContent:
			fmt.Fprintf(b, "[audio: %d bytes of %s]", len(c.Data), orUnknown(c.MIMEType))
		case *mcp.ResourceLink:
			fmt.Fprintf(b, "[resource: %s]", c.URI)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Blob == nil {
				b.WriteString(c.Resource.Text)
			} else if c.Resource != nil {
				fmt.Fprintf(b, "[resource %s: %d bytes of %s]", c.Resource.URI, len(c.Resource.Blob), orUnknown(c.Resource.MIMEType))
			}
		default:
			data, _ := json.Marshal(c)
			b.Write(data)
		}
		if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
			b.WriteByte('\n')
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown type"
	}
	return s
}
