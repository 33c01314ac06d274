//! The C ABI between Tessera CRM and native device drivers, in Rust.
//!
//! Some caller-ID hardware ships only a native SDK (a `.so`/`.dll` with C functions). An
//! operator wraps it in a *driver*: a shared library exporting the four functions below, which
//! the host loads at start (`tessera serve --drivers drivers.toml`). The host checks
//! [`TESSERA_DRIVER_ABI_VERSION`] before anything else, so a driver built for another version
//! of this ABI is refused with a clear message instead of crashing the CRM.
//!
//! `drivers/include/tessera_driver.h` is the same contract for drivers written in C; this crate
//! is what the host and Rust drivers (such as `drivers/fifo-caller-id`) share. The contract:
//!
//! - `uint32_t tessera_driver_abi_version(void)` answers [`TESSERA_DRIVER_ABI_VERSION`].
//! - `const char *tessera_driver_name(void)` answers a static, NUL-terminated UTF-8 name.
//! - `void *tessera_driver_start(const TesseraHost *host, const char *config, char *error,
//!   size_t error_len)` starts the driver with the operator's configuration string. It returns
//!   an opaque handle, or null after writing a NUL-terminated reason into `error`.
//! - `void tessera_driver_stop(void *driver)` stops it. When it returns, the driver's threads
//!   have ended and it calls nothing of the host's any more.
//!
//! Between start and stop the driver calls `host->report` from any thread, as often as calls
//! happen. The host copies what it needs before `report` returns and never blocks in it.

#![no_std]

use core::ffi::{c_char, c_void};

/// The version of this ABI. A change to any struct or function below is a new version.
pub const TESSERA_DRIVER_ABI_VERSION: u32 = 1;

/// A call starts ringing at an extension.
pub const TESSERA_CALL_RINGING: u32 = 1;
/// The call was picked up.
pub const TESSERA_CALL_ANSWERED: u32 = 2;
/// The call ended (hung up, or given up while ringing: a missed call).
pub const TESSERA_CALL_ENDED: u32 = 3;

/// Log levels of [`TesseraHost::log`].
pub const TESSERA_LOG_ERROR: i32 = 1;
pub const TESSERA_LOG_WARN: i32 = 2;
pub const TESSERA_LOG_INFO: i32 = 3;

/// What a driver reports about one call. Strings are NUL-terminated UTF-8, owned by the driver
/// and read by the host only during `report`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TesseraCallEvent {
    /// `size_of::<TesseraCallEvent>()` as the driver was built: lets later versions add fields.
    pub struct_size: u32,
    /// [`TESSERA_CALL_RINGING`], [`TESSERA_CALL_ANSWERED`] or [`TESSERA_CALL_ENDED`].
    pub state: u32,
    /// The line's id for this call, the same in all its events. Required.
    pub call_id: *const c_char,
    /// The caller's number as the line reports it; the host's plugin normalises it. May be
    /// null on answered and ended events.
    pub caller: *const c_char,
    /// The extension or line that rings. May be null.
    pub extension: *const c_char,
    /// When it happened, in milliseconds since the Unix epoch; 0 for now.
    pub at_ms: i64,
}

/// Reports a call event; callable from any thread, never blocks.
pub type TesseraReportFn = unsafe extern "C" fn(host: *mut c_void, event: *const TesseraCallEvent);
/// Writes a line to the host's log.
pub type TesseraLogFn = unsafe extern "C" fn(host: *mut c_void, level: i32, message: *const c_char);

/// What the host hands a driver at start; valid until `tessera_driver_stop` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TesseraHost {
    /// `size_of::<TesseraHost>()` as the host was built.
    pub struct_size: u32,
    /// Passed back as the first argument of `report` and `log`.
    pub context: *mut c_void,
    pub report: TesseraReportFn,
    pub log: TesseraLogFn,
}

/// `tessera_driver_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `tessera_driver_name`.
pub type NameFn = unsafe extern "C" fn() -> *const c_char;
/// `tessera_driver_start`.
pub type StartFn = unsafe extern "C" fn(
    host: *const TesseraHost,
    config: *const c_char,
    error: *mut c_char,
    error_len: usize,
) -> *mut c_void;
/// `tessera_driver_stop`.
pub type StopFn = unsafe extern "C" fn(driver: *mut c_void);
