//! Function processes: spawning, line capture and the race-free drain.
//!
//! # Why output is drained synchronously
//!
//! A function writes its log lines and *then* sends its next request to the Runtime
//! API. A background task that reads the pipe can lag behind the TCP request, so if
//! the emulator only recorded lines from that task, "`/next` requested" could be
//! stamped before lines the function wrote earlier. To make the timeline order match
//! the function's own order, every Runtime API request first *drains* each attached
//! process's pipes: it reads, without blocking, whatever is already in the pipe
//! buffers and records those lines. Only then is the request itself recorded.
//!
//! The pipes are non-blocking (`tokio::net::unix::pipe::Receiver`). The background reader and the request handlers share
//! one [`PipeReader`] per pipe and read it under the same mutex, and they record each
//! line while holding it. So a line is recorded exactly once, and a request that
//! drains after the background task read a chunk waits until that chunk's lines are
//! recorded.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::unix::pipe;
use tokio::sync::{oneshot, watch};

use super::timeline::{LogStream, TimelineEvent};
use super::Shared;

/// Locks a mutex, ignoring poisoning: the data stays consistent because every
/// critical section in this module only appends.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One captured pipe.
pub(crate) struct PipeReader {
    stream: LogStream,
    pipe: pipe::Receiver,
    buf: Mutex<PipeBuf>,
}

#[derive(Default)]
struct PipeBuf {
    partial: Vec<u8>,
    eof: bool,
}

impl PipeReader {
    fn new(stream: LogStream, fd: OwnedFd) -> io::Result<Self> {
        Ok(PipeReader {
            stream,
            // Sets O_NONBLOCK and registers the pipe with the tokio reactor.
            pipe: pipe::Receiver::from_owned_fd(fd)?,
            buf: Mutex::new(PipeBuf::default()),
        })
    }

    /// Reads everything currently in the pipe and records every complete line.
    ///
    /// Returns `Ok(())` at end of file and `Err(WouldBlock)` when the pipe is empty
    /// but still open. `try_read` clears the reactor's readiness on `WouldBlock`, so
    /// the background reader then sleeps until new data arrives.
    fn drain(&self, io: &ProcessIo, shared: &Shared) -> io::Result<()> {
        let mut buf = lock(&self.buf);
        if buf.eof {
            return Ok(());
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.pipe.try_read(&mut chunk) {
                Ok(0) => {
                    buf.eof = true;
                    if !buf.partial.is_empty() {
                        let rest = std::mem::take(&mut buf.partial);
                        io.emit(self.stream, &rest, shared);
                    }
                    return Ok(());
                }
                Ok(n) => {
                    buf.partial.extend_from_slice(&chunk[..n]);
                    while let Some(pos) = buf.partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = buf.partial.drain(..=pos).collect();
                        io.emit(self.stream, &line[..pos], shared);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The captured output of one function process.
pub(crate) struct ProcessIo {
    pid: u32,
    stdout: PipeReader,
    stderr: PipeReader,
    lines: Mutex<Vec<(LogStream, String)>>,
}

impl ProcessIo {
    fn emit(&self, stream: LogStream, raw: &[u8], shared: &Shared) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw).into_owned();
        lock(&self.lines).push((stream, line.clone()));
        shared.record(TimelineEvent::LogLine {
            pid: self.pid,
            stream,
            line,
        });
    }

    /// Records whatever both pipes hold right now. Never blocks on the pipes.
    pub(crate) fn drain_now(&self, shared: &Shared) {
        // WouldBlock (empty pipe) and EOF are both fine here; a real read error will
        // also surface in the background reader.
        let _ = self.stdout.drain(self, shared);
        let _ = self.stderr.drain(self, shared);
    }

    fn pipe(&self, stream: LogStream) -> &PipeReader {
        match stream {
            LogStream::Stdout => &self.stdout,
            LogStream::Stderr => &self.stderr,
        }
    }
}

/// Reads one pipe until end of file, recording lines as they arrive.
async fn read_pipe(io: Arc<ProcessIo>, stream: LogStream, shared: Arc<Shared>) {
    let pipe = io.pipe(stream);
    loop {
        if pipe.pipe.readable().await.is_err() {
            return;
        }
        match pipe.drain(&io, &shared) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // End of file, or a read error that will not go away.
            _ => return,
        }
    }
}

/// A function binary running under an [`Emulator`](super::Emulator).
///
/// Its stdout and stderr are captured line by line, both into the emulator's timeline
/// and into this handle. Dropping the handle kills the process.
pub struct FunctionProcess {
    pid: u32,
    io: Arc<ProcessIo>,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill: Option<oneshot::Sender<()>>,
    shared: Arc<Shared>,
}

impl FunctionProcess {
    pub(crate) fn spawn(
        shared: &Arc<Shared>,
        mut command: tokio::process::Command,
    ) -> io::Result<FunctionProcess> {
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("stdout was not captured"))?
            .into_owned_fd()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("stderr was not captured"))?
            .into_owned_fd()?;
        let io = Arc::new(ProcessIo {
            pid,
            stdout: PipeReader::new(LogStream::Stdout, stdout)?,
            stderr: PipeReader::new(LogStream::Stderr, stderr)?,
            lines: Mutex::new(Vec::new()),
        });
        shared.attach(io.clone());

        // Detached: each reader ends at end of file (or when the runtime shuts down).
        if shared.background_capture {
            for stream in [LogStream::Stdout, LogStream::Stderr] {
                tokio::spawn(read_pipe(io.clone(), stream, shared.clone()));
            }
        }

        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let task_io = io.clone();
        let task_shared = shared.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // Everything the process wrote is in the pipes now: record it before the exit.
            task_io.drain_now(&task_shared);
            if let Ok(status) = status {
                task_shared.process_exited(pid, status);
                let _ = exit_tx.send(Some(status));
            }
        });

        Ok(FunctionProcess {
            pid,
            io,
            exit: exit_rx,
            kill: Some(kill_tx),
            shared: shared.clone(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to exit, without killing it.
    ///
    /// # Panics
    /// If it has not exited within the emulator's wait timeout.
    pub async fn exit_status(&self) -> ExitStatus {
        let mut exit = self.exit.clone();
        let waited =
            tokio::time::timeout(self.shared.wait_timeout, exit.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(status)) => status.expect("wait_for returned a Some"),
            Ok(Err(_)) => panic!("the exit watcher of process {} went away", self.pid),
            Err(_) => panic!(
                "process {} did not exit within {:?}; timeline:\n{}",
                self.pid,
                self.shared.wait_timeout,
                self.shared.render_timeline()
            ),
        }
    }

    /// The exit status if the process has already exited.
    pub fn try_exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Kills the process (SIGKILL) and waits for it to exit.
    pub async fn kill(&mut self) -> ExitStatus {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.exit_status().await
    }

    /// The stdout lines recorded so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.lines_of(LogStream::Stdout)
    }

    /// The stderr lines recorded so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.lines_of(LogStream::Stderr)
    }

    /// All lines (either stream) recorded so far that contain `needle`, in order.
    pub fn lines_matching(&self, needle: &str) -> Vec<String> {
        self.io.drain_now(&self.shared);
        lock(&self.io.lines)
            .iter()
            .filter(|(_, line)| line.contains(needle))
            .map(|(_, line)| line.clone())
            .collect()
    }

    fn lines_of(&self, stream: LogStream) -> Vec<String> {
        // Anything already in the pipe was written before this call: record it first.
        self.io.drain_now(&self.shared);
        lock(&self.io.lines)
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, line)| line.clone())
            .collect()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

impl std::fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionProcess")
            .field("pid", &self.pid)
            .field("exit", &*self.exit.borrow())
            .finish()
    }
}
