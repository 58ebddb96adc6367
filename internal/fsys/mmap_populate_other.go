//go:build darwin || freebsd || netbsd || openbsd

package fsys

// mapPopulate is Linux's only: elsewhere pages are mapped as they are read.
const mapPopulate = 0
