//! `klab-fake-vm`: a stand-in for `qemu-system-x86_64` in the pipeline's own tests
//! (klab/tests/pipeline.rs). It takes the command line klab makes for a harness VM
//! ([`klab::vm::qemu::qemu_args`]) and plays the guest's side of the serial protocol
//! ([`klab::vm::protocol`]): kernel console lines on stdout (ttyS0), the ready line, then one
//! answer per command on the command port (ttyS1, the `-chardev socket` it listens on),
//! each ended by its sentinel and exit status. What each command does comes from a script
//! (see `script.rs`) given as the `-kernel` path.
//!
//! Only a booted start is played: `-incoming` (resuming a saved guest) is refused, so tests
//! start their VMs without the fast path. The monitor socket is not opened. A line that is
//! not a command (`echo b > /proc/sysrq-trigger`, the harness's way to end it) ends the VM.

mod script;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use klab::vm::protocol::{done_line, parse_command_line, READY_LINE};
use script::{Rule, Script};

/// What the fake takes from QEMU's command line.
struct Args {
    script: PathBuf,
    socket: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if value("-incoming").is_some() {
        return Err("-incoming (resuming a saved guest) is not supported: boot instead".into());
    }
    let script = value("-kernel").ok_or("no -kernel SCRIPT")?.into();
    let chardev = value("-chardev").ok_or("no -chardev for the command port")?;
    let socket = chardev_path(chardev).ok_or_else(|| format!("no path= in -chardev {chardev}"))?;
    Ok(Args { script, socket })
}

/// The `path=` of a `-chardev socket,...` value, its doubled commas undone.
fn chardev_path(value: &str) -> Option<PathBuf> {
    // Split at single commas only: `,,` is a comma inside a value.
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            (',', Some(',')) => {
                chars.next();
                field.push(',');
            }
            (',', _) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
        .iter()
        .find_map(|f| f.strip_prefix("path="))
        .map(PathBuf::from)
}

/// The guest: its kernel log, its console and its command port.
struct Guest {
    dmesg: Vec<String>,
    port: UnixStream,
}

impl Guest {
    fn console(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn printk(&mut self, line: &str) {
        self.console(line);
        self.dmesg.push(line.to_owned());
    }

    fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.port.write_all(text.as_bytes())
    }

    /// Answers command `id`. `Ok(false)`: the guest stops answering.
    fn answer(&mut self, id: u64, command: &str, rule: Option<&Rule>) -> std::io::Result<bool> {
        let Some(rule) = rule else {
            let output = match command.trim() {
                "dmesg" => self.dmesg.iter().map(|l| format!("{l}\n")).collect(),
                c if c.starts_with("dmesg -c") => {
                    self.dmesg.clear();
                    String::new()
                }
                _ => String::new(),
            };
            self.send(&output)?;
            self.send(&done_line(id, 0))?;
            return Ok(true);
        };
        rule.dmesg.iter().for_each(|l| self.printk(l));
        if rule.flood_console_bytes > 0 {
            let line = "[ 1.0] fake: console flood ".to_owned() + &"c".repeat(72);
            (0..rule.flood_console_bytes / (line.len() + 1)).for_each(|_| self.console(&line));
        }
        if let Some(title) = &rule.oops {
            self.printk(title);
            self.printk("CPU: 0 PID: 42 Comm: insmod Tainted: G           O");
            self.printk("Call Trace:");
            self.printk(" <TASK>");
            self.printk(" fake_init+0x12/0x30 [fake]");
            self.printk(" </TASK>");
            std::process::exit(0);
        }
        if rule.close_socket {
            // As when the guest's init dies: the port goes, then the VM.
            let _ = self.port.shutdown(std::net::Shutdown::Both);
            std::thread::sleep(Duration::from_millis(100));
            std::process::exit(0);
        }
        if rule.hang {
            return Ok(false);
        }
        if rule.flood_bytes > 0 {
            let line = "f".repeat(99) + "\n";
            for _ in 0..rule.flood_bytes / line.len() {
                self.send(&line)?;
            }
        }
        self.send(&rule.output)?;
        self.send(&done_line(id, rule.status))?;
        Ok(true)
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    let script = Script::load(&args.script)?;
    let listener = UnixListener::bind(&args.socket)
        .map_err(|e| format!("listening on {}: {e}", args.socket.display()))?;
    // wait=on: the guest starts once the harness is connected.
    let (port, _) = listener
        .accept()
        .map_err(|e| format!("accepting on {}: {e}", args.socket.display()))?;
    let reader = BufReader::new(port.try_clone().map_err(|e| e.to_string())?);
    let mut guest = Guest {
        dmesg: Vec::new(),
        port,
    };
    guest.console(&format!("klab-fake-vm: pid {}", std::process::id()));
    script.boot.iter().for_each(|l| guest.printk(l));
    guest
        .send(&format!("{READY_LINE}\n"))
        .map_err(|e| format!("writing the ready line: {e}"))?;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let Some((id, command)) = parse_command_line(&line) else {
            // The harness's power-off (or anything else that is not a command).
            return Ok(());
        };
        match guest.answer(id, command, script.rule_for(command)) {
            Ok(true) => {}
            // A hung guest: alive, silent, until the harness kills it.
            Ok(false) => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Err(_) => break,
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klab-fake-vm: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_path_comes_back_with_its_commas() {
        assert_eq!(
            chardev_path("socket,id=shell,path=/r/a,,b/s.sock,server=on,wait=on"),
            Some(PathBuf::from("/r/a,b/s.sock"))
        );
        assert_eq!(chardev_path("socket,id=shell"), None);
    }
}
