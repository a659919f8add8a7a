package main

import (
	"os"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// noEcho turns off the echo of terminal f; it returns the undo.
func noEcho(f *os.File) func() {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return func() {}
	}
	old := *t
	t.Lflag &^= unix.ECHO
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
	return func() { _ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &old) }
}
