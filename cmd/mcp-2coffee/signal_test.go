package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/2coffee/mcp-2coffee/internal/sample"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// interruptSignal is what a user's Ctrl-C sends.
var interruptSignal = os.Interrupt

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func sampleLoad(ctx context.Context, db store.Backend) (int, error) { return sample.Load(ctx, db) }
