//go:build !linux

package main

import "os"

// isTerminal is false off Linux: the password is read as typed.
func isTerminal(*os.File) bool { return false }

func noEcho(*os.File) func() { return func() {} }
