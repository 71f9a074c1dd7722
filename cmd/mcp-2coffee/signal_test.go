package main

import "os"

// interruptSignal is what a user's Ctrl-C sends.
var interruptSignal = os.Interrupt
