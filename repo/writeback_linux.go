package repo

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk
// without waiting (sync_file_range, SYNC_FILE_RANGE_WRITE). A large file
// written into the working tree is otherwise flushed all at once by the
// first journal commit after it is renamed into place (ext4 allocates a
// file renamed over another at once), which makes the next fsync of any
// small file (the index) wait for all of it.
func startWriteback(f *os.File) {
	const syncFileRangeWrite = 2
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), 0, 0, syncFileRangeWrite, 0, 0)
}
