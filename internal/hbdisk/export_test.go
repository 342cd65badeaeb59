package hbdisk

// What the external tests (package hbdisk_test, which may import packages
// that import hbdisk, such as ocfs2) need from inside.
var CRC32LE = crc32LE

const OffCksum = offCksum
