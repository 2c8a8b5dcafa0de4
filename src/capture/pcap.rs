//! Capture files, through `pcap-file`: `-w` writes classic pcap (nanosecond
//! timestamps, which tcpdump, tshark and Wireshark all read) and `-r` reads
//! classic pcap of the link types [`LinkType::from_pcap`] knows.
//!
//! ```text
//! file:    magic a1b23c4d (ns) | version 2.4 | snaplen | linktype
//! record:  ts_sec | ts_nsec | incl_len | orig_len | incl_len bytes
//! ```
//! Reading is blocking (`std::io::Read`): run it off the async runtime. Its
//! buffer is pcap-file's fixed 8 MB, and a record longer than the file's
//! snap length is an error, so a hostile file cannot make it grow.

use std::io::{Read, Write};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapReader, PcapWriter, RawPcapPacket};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use super::decode::{self, LinkType, Packet};

/// Why a capture file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PcapFileError {
    /// The file is not pcap, or a record in it is broken.
    #[error("not a readable pcap file: {0}")]
    Format(String),
    /// The file's link type is one we do not decode.
    #[error("link type {0} is not one socklab reads (Ethernet, null, raw IP, Linux cooked)")]
    LinkType(u32),
    /// Writing failed.
    #[error("cannot write the capture file: {0}")]
    Write(String),
}

fn describe(err: PcapError) -> String {
    match err {
        PcapError::IoError(err) => crate::net::describe(&err),
        other => other.to_string(),
    }
}

/// A pcap file being written.
pub struct PcapSink<W: Write> {
    writer: PcapWriter<W>,
}

impl<W: Write> PcapSink<W> {
    /// Writes the file header for frames of `link` cut to `snaplen` bytes.
    pub fn new(out: W, link: LinkType, snaplen: u32) -> Result<Self, PcapFileError> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen,
            datalink: DataLink::from(link.pcap_number()),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::native(),
        };
        let writer = PcapWriter::with_header(out, header)
            .map_err(|err| PcapFileError::Write(describe(err)))?;
        Ok(Self { writer })
    }

    /// Appends one frame captured at `timestamp`, `len` bytes on the wire.
    pub fn write(
        &mut self,
        timestamp: Duration,
        len: u32,
        data: &[u8],
    ) -> Result<(), PcapFileError> {
        let incl_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let record = RawPcapPacket {
            ts_sec: u32::try_from(timestamp.as_secs()).unwrap_or(u32::MAX),
            ts_frac: timestamp.subsec_nanos(),
            incl_len,
            orig_len: len.max(incl_len),
            data: data.into(),
        };
        self.writer
            .write_raw_packet(&record)
            .map(drop)
            .map_err(|err| PcapFileError::Write(describe(err)))
    }

    /// The underlying writer, to flush or close it.
    pub fn into_inner(self) -> W {
        self.writer.into_writer()
    }
}

/// The packets of a pcap file, decoded, in file order.
pub struct PcapSource<R: Read> {
    reader: PcapReader<R>,
    link: LinkType,
    nanos: bool,
}

impl<R: Read> PcapSource<R> {
    /// Reads the file header.
    pub fn new(input: R) -> Result<Self, PcapFileError> {
        let reader = PcapReader::new(input).map_err(|err| PcapFileError::Format(describe(err)))?;
        let header = reader.header();
        let number = u32::from(header.datalink);
        let link = LinkType::from_pcap(number).ok_or(PcapFileError::LinkType(number))?;
        let nanos = header.ts_resolution == TsResolution::NanoSecond;
        Ok(Self {
            reader,
            link,
            nanos,
        })
    }

    /// The file's link type.
    pub fn link(&self) -> LinkType {
        self.link
    }
}

impl<R: Read> Iterator for PcapSource<R> {
    type Item = Result<Packet, PcapFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.reader.next_raw_packet()? {
            Ok(record) => record,
            Err(err) => return Some(Err(PcapFileError::Format(describe(err)))),
        };
        // Not `PcapPacket`: it refuses records longer on the wire than the
        // snap length, which is what a truncated capture is.
        let frac = if self.nanos {
            record.ts_frac
        } else {
            record.ts_frac.saturating_mul(1000)
        };
        let timestamp = Duration::from_secs(u64::from(record.ts_sec))
            + Duration::from_nanos(u64::from(frac.min(999_999_999)));
        Some(Ok(decode::decode(
            self.link,
            &record.data,
            timestamp,
            record.orig_len,
        )))
    }
}

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;

    use super::*;
    use crate::capture::decode::{Net, Transport};

    fn udp_frame(link: LinkType) -> Vec<u8> {
        let mut frame = match link {
            // AF_INET in host order: the null link's header.
            LinkType::Null => 2u32.to_ne_bytes().to_vec(),
            _ => Vec::new(),
        };
        let builder = PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).udp(1, 2);
        match link {
            LinkType::Ethernet => PacketBuilder::ethernet2([0; 6], [0; 6])
                .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
                .udp(1, 2)
                .write(&mut frame, b"hi")
                .expect("build"),
            _ => builder.write(&mut frame, b"hi").expect("build"),
        }
        frame
    }

    #[test]
    fn what_we_write_reads_back_for_each_link_type() {
        for link in [LinkType::Ethernet, LinkType::Null, LinkType::Raw] {
            let frame = udp_frame(link);
            let mut sink = PcapSink::new(Vec::new(), link, 65535).expect("header");
            let at = Duration::new(1_700_000_000, 123_456_789);
            sink.write(at, frame.len() as u32, &frame).expect("record");
            sink.write(at + Duration::from_nanos(1), frame.len() as u32, &frame)
                .expect("record");
            let file = sink.into_inner();
            let source = PcapSource::new(&file[..]).expect("opens");
            assert_eq!(source.link(), link);
            let packets: Vec<Packet> = source.map(|p| p.expect("record")).collect();
            assert_eq!(packets.len(), 2);
            assert_eq!(packets[0].timestamp, at, "nanoseconds survive");
            assert_eq!(packets[0].len as usize, frame.len());
            let Net::Ip { transport, .. } = &packets[1].net else {
                panic!("{link:?}: {:?}", packets[1].net)
            };
            assert_eq!(
                *transport,
                Transport::Udp {
                    src_port: 1,
                    dst_port: 2,
                    len: 2
                }
            );
        }
    }

    #[test]
    fn microsecond_files_read_as_tcpdump_writes_them() {
        let header = PcapHeader {
            ts_resolution: TsResolution::MicroSecond,
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(Vec::new(), header).expect("header");
        let frame = udp_frame(LinkType::Ethernet);
        let at = Duration::new(1_700_000_000, 123_456_000);
        let packet = pcap_file::pcap::PcapPacket::new(at, frame.len() as u32, &frame);
        writer.write_packet(&packet).expect("record");
        let file = writer.into_writer();
        let packets: Vec<Packet> = PcapSource::new(&file[..])
            .expect("opens")
            .map(|p| p.expect("record"))
            .collect();
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].timestamp, at);
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert!(matches!(
            PcapSource::new(&b"not a pcap file at all, no"[..]),
            Err(PcapFileError::Format(_))
        ));
        let mut file = PcapSink::new(Vec::new(), LinkType::Ethernet, 100)
            .expect("header")
            .into_inner();
        file[20] = 147; // a LINKTYPE we do not decode
        assert!(matches!(
            PcapSource::new(&file[..]),
            Err(PcapFileError::LinkType(147))
        ));
        file[20] = 1;
        file.extend_from_slice(&[0; 16][..10]); // a record header cut short
        let mut source = PcapSource::new(&file[..]).expect("header is fine");
        assert!(matches!(source.next(), Some(Err(PcapFileError::Format(_)))));
    }
}
