//! Kernel queue sizes of a TCP socket, as `ss` and `netstat` show them.

use std::io;
use std::os::fd::AsRawFd;

/// Bytes waiting in a socket's kernel queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSizes {
    /// Received bytes the application has not read yet (Recv-Q, SIOCINQ).
    pub recv_q: u64,
    /// Written bytes the peer has not acknowledged yet (Send-Q, SIOCOUTQ).
    pub send_q: u64,
}

/// Reads Recv-Q and Send-Q of a connected TCP socket through ioctl.
pub fn queue_sizes(socket: &impl AsRawFd) -> io::Result<QueueSizes> {
    let fd = socket.as_raw_fd();
    Ok(QueueSizes {
        recv_q: ioctl_count(fd, libc::FIONREAD)?,
        send_q: ioctl_count(fd, libc::TIOCOUTQ)?,
    })
}

fn ioctl_count(fd: i32, request: libc::Ioctl) -> io::Result<u64> {
    let mut value: libc::c_int = 0;
    // SAFETY: `fd` is a live socket borrowed from its owner for this call, and
    // both requests write exactly one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, request, &mut value) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(value).unwrap_or(0))
}
