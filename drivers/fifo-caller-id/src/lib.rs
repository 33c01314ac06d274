//! A sample native driver for Tessera CRM: the shape of a real caller-ID driver, without the
//! hardware. Where a caller-ID box's SDK would call back on each ring, this driver reads one
//! line per event from a local Unix socket or a FIFO, so the whole native path (load, ABI
//! check, report, plugin, popup) can be driven by a test or by hand:
//!
//! ```text
//! RING <call-id> <number> [<extension>]
//! ANSWER <call-id>
//! HANGUP <call-id>
//! ```
//!
//! Its configuration string is `unix:<path>` (it listens on a Unix stream socket there, one
//! connection or many) or `fifo:<path>` (it creates the FIFO if missing and reads it, writers
//! coming and going). Try it with `printf 'RING c1 13812345678 8001\n' | socat - UNIX-CONNECT:<path>`
//! or `echo 'RING c1 13812345678 8001' > <fifo>`.
//!
//! It implements the C ABI of `tessera-driver-abi` (`drivers/include/tessera_driver.h`).
//! Everything `unsafe` is that boundary.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tessera_driver_abi::{
    TESSERA_CALL_ANSWERED, TESSERA_CALL_ENDED, TESSERA_CALL_RINGING, TESSERA_DRIVER_ABI_VERSION, TESSERA_LOG_INFO,
    TESSERA_LOG_WARN, TesseraCallEvent, TesseraHost,
};

/// How often the reading threads look whether they should stop.
const POLL: Duration = Duration::from_millis(50);
/// A line longer than this is not a call event; it is dropped.
const MAX_LINE: usize = 1_024;

/// One call event as read from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub state: u32,
    pub call_id: String,
    pub caller: Option<String>,
    pub extension: Option<String>,
}

/// Reads one line of the protocol; `Ok(None)` for blank lines and `#` comments.
pub fn parse_line(line: &str) -> Result<Option<Line>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let event = |state, call_id: &str, caller: Option<&&str>, extension: Option<&&str>| {
        Ok(Some(Line {
            state,
            call_id: call_id.to_owned(),
            caller: caller.map(|s| (*s).to_owned()),
            extension: extension.map(|s| (*s).to_owned()),
        }))
    };
    match words.as_slice() {
        [verb, id, number, rest @ ..] if verb.eq_ignore_ascii_case("RING") && rest.len() <= 1 => {
            event(TESSERA_CALL_RINGING, id, Some(number), rest.first())
        }
        [verb, id] if verb.eq_ignore_ascii_case("ANSWER") => event(TESSERA_CALL_ANSWERED, id, None, None),
        [verb, id] if verb.eq_ignore_ascii_case("HANGUP") => event(TESSERA_CALL_ENDED, id, None, None),
        _ => Err(format!(
            "not a call event: {:?}; expected RING <call-id> <number> [<extension>], ANSWER <call-id> or HANGUP <call-id>",
            line.chars().take(80).collect::<String>()
        )),
    }
}

/// The host's callbacks, sendable to the reading threads.
#[derive(Clone, Copy)]
struct Host(TesseraHost);

// SAFETY: the ABI says the host's `report` and `log` may be called from any thread, and the
// context stays valid until `tessera_driver_stop` returns, which joins every thread first.
unsafe impl Send for Host {}

impl Host {
    fn report(&self, line: &Line) {
        let call_id = CString::new(line.call_id.as_str()).unwrap_or_default();
        let caller = line.caller.as_deref().and_then(|c| CString::new(c).ok());
        let extension = line.extension.as_deref().and_then(|c| CString::new(c).ok());
        let event = TesseraCallEvent {
            struct_size: u32::try_from(size_of::<TesseraCallEvent>()).unwrap_or(u32::MAX),
            state: line.state,
            call_id: call_id.as_ptr(),
            caller: caller.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            extension: extension.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            at_ms: 0,
        };
        // SAFETY: every pointer is valid until this call returns, as the ABI asks.
        unsafe { (self.0.report)(self.0.context, &raw const event) };
    }

    fn log(&self, level: i32, message: &str) {
        if let Ok(text) = CString::new(message) {
            // SAFETY: a NUL-terminated string valid during the call.
            unsafe { (self.0.log)(self.0.context, level, text.as_ptr()) };
        }
    }
}

/// Splits what arrives into lines and reports each event.
struct LineReader {
    pending: Vec<u8>,
}

impl LineReader {
    fn feed(&mut self, host: &Host, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            match parse_line(&text) {
                Ok(Some(event)) => host.report(&event),
                Ok(None) => {}
                Err(e) => host.log(TESSERA_LOG_WARN, &e),
            }
        }
        if self.pending.len() > MAX_LINE {
            host.log(TESSERA_LOG_WARN, "a line of over 1024 bytes is not a call event; dropped");
            self.pending.clear();
        }
    }
}

/// Reads a source until it ends or the driver stops.
fn pump(host: &Host, stop: &AtomicBool, source: &mut impl Read) {
    let mut reader = LineReader { pending: Vec::new() };
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reader.feed(host, buf.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                std::thread::sleep(POLL);
            }
            Err(e) => {
                host.log(TESSERA_LOG_WARN, &format!("reading failed: {e}"));
                break;
            }
        }
    }
}

/// Accepts connections on a Unix socket, one reading thread each.
fn serve_socket(host: Host, stop: Arc<AtomicBool>, listener: UnixListener) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let stop = stop.clone();
                readers.push(std::thread::spawn(move || pump(&host, &stop, &mut stream)));
                readers.retain(|r| !r.is_finished());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                host.log(TESSERA_LOG_WARN, &format!("accepting a connection failed: {e}"));
                std::thread::sleep(POLL);
            }
        }
    }
    for r in readers {
        let _ = r.join();
    }
}

/// Reads a FIFO, opening it again whenever its writer closes it.
fn serve_fifo(host: Host, stop: Arc<AtomicBool>, path: PathBuf) {
    use std::os::unix::fs::OpenOptionsExt;
    while !stop.load(Ordering::Relaxed) {
        // Non-blocking, so that opening waits for no writer and the stop flag is seen.
        match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&path) {
            Ok(mut fifo) => {
                pump(&host, &stop, &mut fifo);
                std::thread::sleep(POLL);
            }
            Err(e) => {
                host.log(TESSERA_LOG_WARN, &format!("cannot open {}: {e}", path.display()));
                std::thread::sleep(POLL * 20);
            }
        }
    }
}

/// A running driver, behind the opaque handle the host keeps.
pub struct Driver {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    socket: Option<PathBuf>,
}

/// Starts reading from the configured source.
fn start(host: Host, config: &str) -> Result<Driver, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Some(path) = config.strip_prefix("unix:") {
        let path = Path::new(path.trim());
        // A socket file left by an earlier run would refuse the bind.
        if path.exists() {
            std::fs::remove_file(path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
        }
        let listener = UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        host.log(TESSERA_LOG_INFO, &format!("listening for call events on {}", path.display()));
        let thread = std::thread::spawn(move || serve_socket(host, flag, listener));
        Ok(Driver { stop, thread: Some(thread), socket: Some(path.to_owned()) })
    } else if let Some(path) = config.strip_prefix("fifo:") {
        let path = PathBuf::from(path.trim());
        if !path.exists() {
            let c_path =
                CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| "the FIFO path has a NUL byte")?;
            // SAFETY: a NUL-terminated path, valid during the call.
            if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
                return Err(format!("cannot make the FIFO {}: {}", path.display(), std::io::Error::last_os_error()));
            }
        }
        host.log(TESSERA_LOG_INFO, &format!("reading call events from {}", path.display()));
        let thread = std::thread::spawn(move || serve_fifo(host, flag, path));
        Ok(Driver { stop, thread: Some(thread), socket: None })
    } else {
        Err(format!("config must be unix:<socket path> or fifo:<fifo path>, not {config:?}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// The ABI version this driver implements.
#[unsafe(no_mangle)]
pub extern "C" fn tessera_driver_abi_version() -> u32 {
    TESSERA_DRIVER_ABI_VERSION
}

/// The driver's name, for the host's logs.
#[unsafe(no_mangle)]
pub extern "C" fn tessera_driver_name() -> *const c_char {
    c"fifo-caller-id".as_ptr()
}

/// Starts the driver; see the ABI.
///
/// # Safety
/// `host` points to a valid `TesseraHost` whose context outlives the driver; `config` is a
/// NUL-terminated string; `error` is writable for `error_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_driver_start(
    host: *const TesseraHost,
    config: *const c_char,
    error: *mut c_char,
    error_len: usize,
) -> *mut c_void {
    let fail = |message: &str| {
        if !error.is_null() && error_len > 0 {
            let bytes = message.as_bytes();
            let n = bytes.len().min(error_len - 1);
            // SAFETY: `error` is writable for `error_len` bytes and `n + 1 <= error_len`.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), error.cast::<u8>(), n);
                *error.add(n) = 0;
            }
        }
        std::ptr::null_mut()
    };
    if host.is_null() || config.is_null() {
        return fail("the host passed no callbacks or no config");
    }
    // SAFETY: non-null and valid per this function's contract; the struct is copied.
    let host = Host(unsafe { *host });
    // SAFETY: NUL-terminated per the contract.
    let config = unsafe { CStr::from_ptr(config) }.to_string_lossy().into_owned();
    match std::panic::catch_unwind(|| start(host, &config)) {
        Ok(Ok(driver)) => Box::into_raw(Box::new(driver)).cast(),
        Ok(Err(message)) => fail(&message),
        Err(_) => fail("the driver panicked while starting"),
    }
}

/// Stops the driver and joins its threads.
///
/// # Safety
/// `driver` is a handle `tessera_driver_start` returned, stopped at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_driver_stop(driver: *mut c_void) {
    if driver.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `tessera_driver_start`, and given back only once.
    let driver = unsafe { Box::from_raw(driver.cast::<Driver>()) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(driver)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_events_and_refuses_the_rest() {
        assert_eq!(
            parse_line("RING c-1 +86 138 1234\n"),
            Err("not a call event: \"RING c-1 +86 138 1234\"; expected RING <call-id> <number> [<extension>], ANSWER <call-id> or HANGUP <call-id>".into()),
            "a number is one word"
        );
        assert_eq!(
            parse_line("ring c-1 13812345678 8001"),
            Ok(Some(Line {
                state: TESSERA_CALL_RINGING,
                call_id: "c-1".into(),
                caller: Some("13812345678".into()),
                extension: Some("8001".into())
            }))
        );
        assert_eq!(parse_line("RING c-2 010-87654321").map(|l| l.map(|l| l.extension)), Ok(Some(None)));
        assert_eq!(parse_line("ANSWER c-1").map(|l| l.map(|l| l.state)), Ok(Some(TESSERA_CALL_ANSWERED)));
        assert_eq!(parse_line("HANGUP c-1").map(|l| l.map(|l| l.state)), Ok(Some(TESSERA_CALL_ENDED)));
        assert_eq!(parse_line("  # a comment"), Ok(None));
        assert_eq!(parse_line(""), Ok(None));
        assert!(parse_line("ANSWER").is_err());
        assert!(parse_line("DIAL c-1 123").is_err());
    }

    #[test]
    fn refuses_a_config_it_does_not_understand() {
        let mut error = [0 as c_char; 128];
        let host = TesseraHost { struct_size: 0, context: std::ptr::null_mut(), report: noop_report, log: noop_log };
        let config = c"/tmp/somewhere";
        // SAFETY: valid pointers for the call.
        let handle = unsafe { tessera_driver_start(&raw const host, config.as_ptr(), error.as_mut_ptr(), error.len()) };
        assert!(handle.is_null());
        // SAFETY: the driver wrote a NUL-terminated reason.
        let reason = unsafe { CStr::from_ptr(error.as_ptr()) }.to_string_lossy();
        assert!(reason.contains("unix:<socket path>"), "{reason}");
    }

    unsafe extern "C" fn noop_report(_: *mut c_void, _: *const TesseraCallEvent) {}
    unsafe extern "C" fn noop_log(_: *mut c_void, _: i32, _: *const c_char) {}
}
