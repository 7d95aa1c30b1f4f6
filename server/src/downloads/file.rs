//! A download's file: an mbox, or EML files in a zip, written message by message as the
//! messages come, so that only the one being written is in memory, however large the mailbox.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use portal_api::DownloadFormat as Format;

use crate::imap::store::Remote;

/// The file name's extension of a download in this format.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Mbox => "mbox",
        Format::EmlZip => "zip",
        Format::Eml => "eml",
    }
}

pub fn media_type(format: Format) -> &'static str {
    match format {
        Format::Mbox => "application/mbox",
        Format::EmlZip => "application/zip",
        Format::Eml => "message/rfc822",
    }
}

/// Deletes a download's file, in whichever format it was written, here and in the shared
/// store (once its record is gone the signed link answers 404 anyway: a file that cannot be
/// deleted is only space, and is logged).
pub async fn remove_files(data_dir: &Path, remote: Option<&Remote>, job_id: &str) {
    for format in Format::ALL {
        let path = file_path(data_dir, job_id, format);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, path = %path.display(), "could not delete a download's file"),
        }
    }
    if let Some(remote) = remote {
        // The formats at once: one slow store costs one request's deadline, not three.
        let names: Vec<String> = Format::ALL.into_iter().map(|format| file_name(job_id, format)).collect();
        let deleted = futures_util::future::join_all(names.iter().map(|name| remote.delete_download(name))).await;
        for error in deleted.into_iter().filter_map(Result::err) {
            tracing::warn!(%error, job_id, "could not delete a download's file from the object store");
        }
    }
}

pub fn file_path(data_dir: &Path, job_id: &str, format: Format) -> PathBuf {
    data_dir.join("downloads").join(file_name(job_id, format))
}

/// A download file's name, in the data folder and in the shared store.
pub fn file_name(job_id: &str, format: Format) -> String {
    format!("{job_id}.{}", extension(format))
}

/// Puts a finished download file where every instance can serve it: with a shared store, it is
/// uploaded there (streamed) and the local copy goes; otherwise it stays in the data folder.
pub async fn publish(data_dir: &Path, remote: Option<&Remote>, job_id: &str, format: Format) -> std::io::Result<()> {
    let Some(remote) = remote else { return Ok(()) };
    let path = file_path(data_dir, job_id, format);
    remote.put_download(&file_name(job_id, format), &path).await?;
    tokio::fs::remove_file(&path).await
}

/// One message of a download: its folder, when it arrived (Unix ms, if known) and its bytes.
pub struct MessageFile {
    pub folder: String,
    pub internal_date: Option<i64>,
    pub raw: Vec<u8>,
}

/// The demo mailbox's messages: the same every time for the same address.
pub fn demo_messages(email: &str) -> Vec<MessageFile> {
    const FOLDERS: [&str; 3] = ["Inbox", "Sent Items", "Archive"];
    const SUBJECTS: [&str; 6] = [
        "Quarterly figures",
        "Re: Contract renewal",
        "Lunch on Friday?",
        "Invoice 2026-114",
        "From the board: minutes",
        "Café opening — Grüße",
    ];
    (0..24)
        .map(|i| {
            let folder = FOLDERS[i % FOLDERS.len()];
            let subject = SUBJECTS[i % SUBJECTS.len()];
            let (from, to) = if folder == "Sent Items" { (email.to_owned(), "colleague@partner.example".to_owned()) } else { ("colleague@partner.example".to_owned(), email.to_owned()) };
            let day = 1 + i % 28;
            // Non-ASCII subjects travel encoded (RFC 2047), as a mail server would store them.
            let subject_header = if subject.is_ascii() {
                subject.to_owned()
            } else {
                format!("=?UTF-8?Q?{}?=", subject.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("={b:02X}") }).collect::<String>())
            };
            let raw = format!(
                "From: {from}\r\nTo: {to}\r\nSubject: {subject_header}\r\nDate: Mon, {day:02} Nov 2026 09:{:02}:00 +0000\r\n\
                 Message-ID: <demo-{i}-{}@backup-portal.example>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n\
                 Hello,\r\n\r\nThis is demo message {i} of {email}.\r\nFrom the start of a line, a mbox reader must not split here.\r\n",
                i % 60,
                email.replace('@', ".")
            );
            MessageFile { folder: folder.to_owned(), internal_date: None, raw: raw.into_bytes() }
        })
        .collect()
}

/// Writes a whole download's file from these messages; returns its path and size.
pub fn write_file(
    data_dir: &Path,
    job_id: &str,
    format: Format,
    messages: impl IntoIterator<Item = MessageFile>,
) -> std::io::Result<(PathBuf, u64)> {
    let mut writer = FileWriter::create(data_dir, job_id, format)?;
    for message in messages {
        writer.add(&message)?;
    }
    writer.finish()
}

/// A download's file being written: messages are added one at a time, and the file gets its
/// final name only in `finish`. Dropped unfinished (a failed run), its partial file goes.
pub struct FileWriter {
    path: PathBuf,
    partial: PathBuf,
    sink: Option<Sink>,
    added: usize,
}

enum Sink {
    Mbox(BufWriter<File>),
    Zip(Box<zip::ZipWriter<BufWriter<File>>>),
    /// One message, as it is: a second one is refused.
    Eml(BufWriter<File>),
}

/// Buffered writes of this size: few system calls, little memory.
const WRITE_BUFFER: usize = 256 << 10;

impl FileWriter {
    pub fn create(data_dir: &Path, job_id: &str, format: Format) -> std::io::Result<FileWriter> {
        let path = file_path(data_dir, job_id, format);
        std::fs::create_dir_all(path.parent().expect("download files live in a folder"))?;
        let partial = path.with_extension("part");
        let file = BufWriter::with_capacity(WRITE_BUFFER, File::create(&partial)?);
        let sink = match format {
            Format::Mbox => Sink::Mbox(file),
            Format::EmlZip => Sink::Zip(Box::new(zip::ZipWriter::new(file))),
            Format::Eml => Sink::Eml(file),
        };
        Ok(FileWriter { path, partial, sink: Some(sink), added: 0 })
    }

    /// Appends one message to the file.
    pub fn add(&mut self, message: &MessageFile) -> std::io::Result<()> {
        self.added += 1;
        match self.sink.as_mut().expect("only `finish` takes the sink, and it consumes the writer") {
            Sink::Mbox(out) => write_mbox_message(out, message),
            Sink::Zip(zip) => write_zip_entry(zip, message, self.added),
            Sink::Eml(_) if self.added > 1 => Err(std::io::Error::other("an EML file holds one message")),
            Sink::Eml(out) => out.write_all(&message.raw),
        }
    }

    /// Completes the file and gives it its final name; returns its path and size.
    pub fn finish(mut self) -> std::io::Result<(PathBuf, u64)> {
        let mut file = match self.sink.take().expect("finished once") {
            Sink::Mbox(out) | Sink::Eml(out) => out,
            Sink::Zip(zip) => zip.finish().map_err(std::io::Error::other)?,
        };
        file.flush()?;
        drop(file);
        // Only a complete file ever has the final name.
        std::fs::rename(&self.partial, &self.path)?;
        let size = std::fs::metadata(&self.path)?.len();
        Ok((self.path.clone(), size))
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.sink.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// mboxrd: each message after a `From ` line (with its arrival time when known), body lines
/// starting with (>*)From quoted, lines ending in LF.
fn write_mbox_message(out: &mut impl Write, message: &MessageFile) -> std::io::Result<()> {
    let asctime = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let when = message
        .internal_date
        .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
        .and_then(|at| at.format(&asctime).ok())
        .unwrap_or_else(|| "Mon Nov  2 09:00:00 2026".to_owned());
    writeln!(out, "From MAILER-DAEMON {when}")?;
    let raw = message.raw.strip_suffix(b"\r\n").or_else(|| message.raw.strip_suffix(b"\n")).unwrap_or(&message.raw);
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().position(|b| *b != b'>').is_some_and(|start| line[start..].starts_with(b"From ")) {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    writeln!(out)
}

/// The `number`th message (from 1) as an EML file in its folder's directory of the zip.
fn write_zip_entry(zip: &mut zip::ZipWriter<BufWriter<File>>, message: &MessageFile, number: usize) -> std::io::Result<()> {
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // A folder name becomes a path inside the zip; nothing in it may climb out.
    let folder: Vec<&str> =
        message.folder.split(['/', '\\']).filter(|part| !part.is_empty() && *part != "." && *part != "..").collect();
    let folder = if folder.is_empty() { "INBOX".to_owned() } else { folder.join("/") };
    zip.start_file(format!("{folder}/{number:05}.eml"), options).map_err(std::io::Error::other)?;
    zip.write_all(&message.raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_holds_every_message_and_quotes_from_lines() {
        let dir = tempfile::tempdir().unwrap();
        let messages = demo_messages("a@b.example");
        let count = messages.len();
        let (path, _) = write_file(dir.path(), "D-1", Format::Mbox, messages).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("From ")).count(), count);
        assert!(text.contains("\n>From the start of a line"));
    }

    #[test]
    fn a_file_is_written_as_messages_come_and_named_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let message = |folder: &str, i: usize| MessageFile {
            folder: folder.into(),
            internal_date: Some(1_700_000_000_000),
            raw: format!("Subject: {i}\r\n\r\n>From here\r\nbody {i}\r\n").into_bytes(),
        };
        let mut writer = FileWriter::create(dir.path(), "D-2", Format::EmlZip).unwrap();
        for i in 0..3 {
            writer.add(&message("../Work/./x", i)).unwrap();
        }
        let path = file_path(dir.path(), "D-2", Format::EmlZip);
        assert!(!path.exists(), "not under its final name while it is written");
        let (written, size) = writer.finish().unwrap();
        assert_eq!((written.clone(), size), (path.clone(), std::fs::metadata(&path).unwrap().len()));
        let mut zip = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        assert_eq!(names, ["Work/x/00001.eml", "Work/x/00002.eml", "Work/x/00003.eml"]);
        let mut second = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("Work/x/00002.eml").unwrap(), &mut second).unwrap();
        assert_eq!(second, "Subject: 1\r\n\r\n>From here\r\nbody 1\r\n", "an EML file is the message as it was");

        // An mbox of the same: the arrival time in each From line, one more > on a quoted line.
        let (path, _) = write_file(dir.path(), "D-3", Format::Mbox, (0..2).map(|i| message("INBOX", i))).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "From MAILER-DAEMON Tue Nov 14 22:13:20 2023\nSubject: 0\n\n>>From here\nbody 0\n\n\
             From MAILER-DAEMON Tue Nov 14 22:13:20 2023\nSubject: 1\n\n>>From here\nbody 1\n\n"
        );

        // A run that fails leaves nothing behind.
        let mut unfinished = FileWriter::create(dir.path(), "D-4", Format::Mbox).unwrap();
        unfinished.add(&message("INBOX", 0)).unwrap();
        drop(unfinished);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("downloads")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "only the two finished files: {left:?}");
    }
}
