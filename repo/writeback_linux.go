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

// dropCache asks the kernel to drop the cached pages of the file at path
// (posix_fadvise DONTNEED) without touching the file. A checkout that is
// about to replace a large file calls it early, in the background:
// releasing a 256 MiB file's pages otherwise takes ~0.1 s inside the
// rename that replaces it.
func dropCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return
	}
	const fadvDontNeed = 4
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0)
}
