package objects

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing f's dirty pages without
// waiting (sync_file_range, SYNC_FILE_RANGE_WRITE), so that the fsync of a
// batch finds most of its data on the disk already.
func startWriteback(f *os.File) {
	const syncFileRangeWrite = 2
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), 0, 0, syncFileRangeWrite, 0, 0)
}
