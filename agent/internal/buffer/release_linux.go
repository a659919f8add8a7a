package buffer

import "golang.org/x/sys/unix"

// unmapPages tells the kernel that the n bytes mapped at addr will not be
// needed soon (madvise MADV_DONTNEED). On a shared file mapping this only
// drops the pages from the process's page tables; their contents stay in
// the file and the page cache.
func unmapPages(addr, n uintptr) error {
	n &^= uintptr(unix.Getpagesize() - 1)
	if addr == 0 || n == 0 {
		return nil
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, n, unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
