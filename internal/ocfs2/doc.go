// Package ocfs2 reads what o2cb needs from an OCFS2 volume: the
// superblock (UUID, label, cluster stack and heartbeat mode) and the
// heartbeat region, the extent of the "heartbeat" system file where o2hb
// keeps one slot per node. It only ever reads, and it checks every
// on-disk value before using it: a malformed volume gives an error that
// names the structure, block and field, wrapping one of the Err
// sentinels, never a panic.
//
//	v, err := ocfs2.Open("/dev/sdb1")
//	if errors.Is(err, ocfs2.ErrNotOCFS2) { ... }
//	if err != nil { ... }
//	fmt.Println(v.UUID, v.Heartbeat.BlockBytes, v.Heartbeat.StartBlock)
//	// before writing node n's slot:
//	off := v.Heartbeat.SlotOffset(n)
//	if !v.Heartbeat.WriteInside(v.Heartbeat.Extent, off, int64(v.Heartbeat.BlockBytes)) { ... }
//
//	dev, err := ocfs2.FindByUUID("43fa4f36-ed35-4789-a313-654157458296",
//		ocfs2.ScanOptions{Extra: ocfs2.SplitDeviceList(os.Getenv("O2CB_HB_DEVICES"))})
//
// # On-disk layout
//
// All integers are little-endian; blkno values count filesystem blocks.
// The superblock is block 2 for the volume's block size (512 to 4096,
// found by probing). It is an inode whose id2 union holds the superblock
// proper:
//
//	superblock block     offset  size  field
//	                     0x000   8     i_signature "OCFSV2"
//	                     0x050   8     i_blkno: 2
//	                     0x080   8     i_check (meta-ecc)
//	                     0x060   4     i_fs_generation (every inode has it)
//	                     0x0DC   4     s_feature_compat
//	                     0x0E0   4     s_feature_incompat (0x0002 heartbeat device,
//	                                   0x0040 inline data, 0x0400 indexed dirs,
//	                                   0x0800 meta-ecc, 0x4000 cluster info)
//	                     0x0E4   4     s_feature_ro_compat
//	                     0x0F0   8     s_system_dir_blkno
//	                     0x0F8   4     s_blocksize_bits (9 to 12)
//	                     0x0FC   4     s_clustersize_bits (12 to 20)
//	                     0x110   64    s_label, NUL padded
//	                     0x150   16    s_uuid (o2cb prints it as %02X x 16)
//	                     0x160   4     ci_stack, e.g. "o2cb"
//	                     0x164   1     ci_stackflags (0x01 global heartbeat)
//	                     0x168   16    ci_cluster, the cluster name
//
//	inode block          0x000   8     i_signature "INODE01"
//	                     0x020   8     i_size
//	                     0x028   2     i_mode
//	                     0x02C   4     i_flags (0x0001 valid, 0x0200 heartbeat)
//	                     0x050   8     i_blkno: the inode's own block
//	                     0x060   4     i_fs_generation
//	                     0x076   2     i_dyn_features (0x0001 inline data)
//	                     0x080   8     i_check: le32 crc32, le16 ecc (meta-ecc)
//	                     0x0C0   ...   id2: an extent list, or inline data
//	                                   (le16 id_count, data from 0x0C8)
//
//	extent list          +0x00   2     l_tree_depth (0: records point at data)
//	                     +0x02   2     l_count, records that fit
//	                     +0x04   2     l_next_free_rec, records in use
//	                     +0x10   16×n  records: le32 e_cpos, le16 e_leaf_clusters
//	                                   (le32 e_int_clusters above depth 0),
//	                                   u8, u8 e_flags, le64 e_blkno
//
//	extent block         0x000   8     h_signature "EXBLK01"
//	                     0x008   8     h_check (meta-ecc)
//	                     0x014   4     h_fs_generation
//	                     0x018   8     h_blkno
//	                     0x030   ...   h_list, an extent list one level down
//
//	directory entry      +0x00   8     inode (0: unused)
//	                     +0x08   2     rec_len, a multiple of 4
//	                     +0x0A   1     name_len
//	                     +0x0B   1     file_type
//	                     +0x0C   n     name
//
//	directory trailer    last 64 bytes of each directory block when the
//	                     volume has meta-ecc or indexed-dirs: "DIRTRL1"
//	                     at +0x10, db_check at +0x38; not entries
//
// With meta-ecc, every metadata block read (superblock, inodes, extent
// blocks, directory blocks) must match its crc32 (crc32_le(~0, block) with
// the check field zeroed, no final inversion), else ErrChecksum: a
// flipped bit must not move the heartbeat region. Errors the kernel could
// repair with the Hamming code are refused too.
//
// The heartbeat region (libocfs2 ocfs2_fill_heartbeat_desc): the system
// directory's entry "heartbeat" names an inode whose extent list must be
// depth 0 with exactly one record of at least 255 filesystem blocks.
// BlockBytes is the device's logical sector size (512 for an image file;
// it may not exceed the filesystem block size), StartBlock is that
// record's byte offset in BlockBytes units, and Blocks is 255.
//
// # Finding a volume by UUID
//
// Scan and FindByUUID search, in this order, and probe each device once:
// the paths and globs of ScanOptions.Extra, /dev/mapper/*, then the devices
// of /proc/partitions (NVMe, dm-N and loop devices included) except those
// with holders, which lose to their holder.
//
// # Hung devices
//
// Probe, Scan and FindByUUID answer within ScanOptions.Timeout
// (DefaultProbeTimeout, 500 ms) even when a device never answers, and the
// calling process can exit while that read hangs. A device that did not
// answer is named in an error wrapping ErrNoAnswer: Scan returns it with
// what the other devices hold; FindByUUID reports it to ScanOptions.Warn
// when it found the volume on a later device, and in its error when it
// found it nowhere. The reads are first tried without waiting
// (preadv2 RWF_NOWAIT: the page cache, starting the read of what is
// missing); the devices that have not answered within 50 ms are read by
// a child process, the program itself run again through /proc/self/exe
// (the package's init runs it), which inherits their descriptors and is
// left behind, to end by itself, if one hangs. A healthy search starts no
// process. Open reads in the calling process and blocks while the device
// does.
//
//	found, err := ocfs2.Scan(ocfs2.ScanOptions{})
//	if errors.Is(err, ocfs2.ErrNoAnswer) { ... } // found holds the others
package ocfs2
