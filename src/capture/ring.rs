//! The packet socket's receive ring (PACKET_RX_RING, TPACKET_V3), as
//! libpcap maps it: a fixed run of blocks shared with the kernel, which
//! fills a block with frames and hands it over when it is full or after
//! [`BLOCK_TIMEOUT_MS`]. Reading needs no system call per frame and wakes
//! the reader once per block, not once per packet; when every block is
//! still ours, the kernel drops and counts.
//!
//! ```text
//! block:  tpacket_block_desc { version, offset_to_priv, hdr: tpacket_hdr_v1 {
//!             block_status @8, num_pkts @12, offset_to_first_pkt @16, ... } }
//! frame:  tpacket3_hdr { tp_next_offset @0, tp_sec @4, tp_nsec @8,
//!             tp_snaplen @12, tp_len @16, tp_status @20, tp_mac @24, ... }  [frame bytes at tp_mac]
//! ```

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// One block: room for the largest loopback frame (65536 + headers) many times over.
pub const BLOCK_SIZE: usize = 1 << 20;
/// How long the kernel keeps a block that is not full before handing it over:
/// the most a line can lag its packet.
pub const BLOCK_TIMEOUT_MS: u32 = 10;

const PACKET_RX_RING: libc::c_int = 5;
const PACKET_VERSION: libc::c_int = 10;
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
/// The frame size the kernel checks the request against (V3 frames vary).
const FRAME_SIZE: u32 = 2048;
/// `sizeof(struct tpacket3_hdr)`.
const FRAME_HEADER: usize = 48;
/// `sizeof(struct tpacket_block_desc)` up to the first field we read past.
const BLOCK_HEADER: usize = 48;

/// `struct tpacket_req3` (linux/if_packet.h).
#[repr(C)]
struct Req3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// Where the reader is in the block it holds.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// Offset of the next frame header in the block.
    offset: usize,
    /// Frames left in the block.
    left: u32,
}

/// The mapped ring.
pub struct Ring {
    map: NonNull<u8>,
    blocks: usize,
    /// The block the reader holds or waits for.
    current: usize,
    cursor: Option<Cursor>,
}

// SAFETY: the mapping belongs to this value alone (the kernel's side is
// synchronised through each block's status word), so it may move between
// threads with it.
unsafe impl Send for Ring {}

/// One frame in the ring.
pub struct RingFrame<'a> {
    /// Kernel receive time, since the Unix epoch.
    pub timestamp: Duration,
    /// Length on the wire.
    pub len: u32,
    /// The bytes the ring holds (all of the frame, unless it exceeded a block).
    pub data: &'a [u8],
}

impl Ring {
    /// Switches `fd` to TPACKET_V3 and maps a ring of about `size` bytes
    /// (at least two blocks).
    pub fn new(fd: &OwnedFd, size: usize) -> io::Result<Self> {
        let blocks = size.div_ceil(BLOCK_SIZE).max(2);
        setsockopt(fd, PACKET_VERSION, &TPACKET_V3)?;
        let block_nr = u32::try_from(blocks).map_err(io::Error::other)?;
        let request = Req3 {
            block_size: BLOCK_SIZE as u32,
            block_nr,
            frame_size: FRAME_SIZE,
            frame_nr: (BLOCK_SIZE as u32 / FRAME_SIZE) * block_nr,
            retire_blk_tov: BLOCK_TIMEOUT_MS,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        setsockopt(fd, PACKET_RX_RING, &request)?;
        // SAFETY: a fresh shared mapping of the ring the kernel just set up,
        // of exactly its size; checked before use.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                blocks * BLOCK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(map.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self {
            map,
            blocks,
            current: 0,
            cursor: None,
        })
    }

    fn block(&self) -> *mut u8 {
        // SAFETY: `current < blocks`, so the offset stays inside the mapping.
        unsafe { self.map.as_ptr().add(self.current * BLOCK_SIZE) }
    }

    fn status(&self) -> &AtomicU32 {
        // SAFETY: block_status is an aligned u32 at offset 8 of the block,
        // shared with the kernel: read and written atomically only.
        unsafe { &*self.block().add(8).cast::<AtomicU32>() }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        debug_assert!(offset + 4 <= BLOCK_SIZE);
        // SAFETY: callers keep `offset + 4` inside the block; the kernel does
        // not write a block while its status says it is ours.
        unsafe { self.block().add(offset).cast::<u32>().read_unaligned() }
    }

    /// Whether a frame is waiting; hands finished blocks back to the kernel.
    pub fn ready(&mut self) -> bool {
        loop {
            match self.cursor {
                Some(cursor) if cursor.left > 0 => return true,
                Some(_) => {
                    self.status().store(TP_STATUS_KERNEL, Ordering::Release);
                    self.current = (self.current + 1) % self.blocks;
                    self.cursor = None;
                }
                None => {
                    if self.status().load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                        return false;
                    }
                    let left = self.read_u32(12);
                    let offset = self.read_u32(16) as usize;
                    // A block whose header points outside itself is handed back unread.
                    let inside = (BLOCK_HEADER..=BLOCK_SIZE - FRAME_HEADER).contains(&offset);
                    let left = if inside { left } else { 0 };
                    self.cursor = Some(Cursor { offset, left });
                }
            }
        }
    }

    /// The next frame, when [`Ring::ready`] said one is waiting.
    pub fn take(&mut self) -> Option<RingFrame<'_>> {
        let cursor = self.cursor.filter(|cursor| cursor.left > 0)?;
        let at = cursor.offset;
        let next = self.read_u32(at) as usize;
        let seconds = self.read_u32(at + 4);
        let nanos = self.read_u32(at + 8);
        let kept = self.read_u32(at + 12) as usize;
        let len = self.read_u32(at + 16);
        // SAFETY: at + 24 + 2 is inside the block (at <= BLOCK_SIZE - FRAME_HEADER).
        let mac = usize::from(unsafe { self.block().add(at + 24).cast::<u16>().read_unaligned() });
        // Clamped to the block, which the kernel never overruns anyway.
        let start = (at + mac).min(BLOCK_SIZE);
        let kept = kept.min(BLOCK_SIZE - start);
        let (left, offset) = if next == 0 || at + next > BLOCK_SIZE - FRAME_HEADER {
            (0, at)
        } else {
            (cursor.left - 1, at + next)
        };
        self.cursor = Some(Cursor { offset, left });
        // SAFETY: [start, start + kept) is inside the block, which stays ours
        // (and unwritten by the kernel) until `ready` hands it back, which
        // needs `&mut self` and so outlives this borrow.
        let data = unsafe { std::slice::from_raw_parts(self.block().add(start), kept) };
        Some(RingFrame {
            timestamp: Duration::new(u64::from(seconds), nanos.min(999_999_999)),
            len,
            data,
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that size, unmapped once.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.blocks * BLOCK_SIZE) };
    }
}

fn setsockopt<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    super::socket::setsockopt(fd, libc::SOL_PACKET, name, value)
}
