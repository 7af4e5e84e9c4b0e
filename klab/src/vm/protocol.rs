//! The command protocol on the guest's command port (ttyS1), both ends of it: the line the
//! guest prints once it is ready, the line the harness sends for one command, and the
//! sentinel that ends the command's output with its exit status.
//!
//! The harness ([`crate::vm::session`]) writes [`command_line`]; the guest's init (rootfs/init)
//! runs each line in its own `sh`; the test VM (`klab-fake-vm`) reads it back with
//! [`parse_command_line`] and answers with [`done_line`].

/// The line the guest prints on its command port once it is ready.
pub const READY_LINE: &str = "@@KLAB-READY@@";

const DONE_PREFIX: &str = "@@KLAB-DONE ";

/// The line that runs `command` as command number `id` (stdin is /dev/null in the guest,
/// stderr joins stdout), newline included. The split quotes keep the sentinel out of any
/// echo of the command line itself.
pub fn command_line(id: u64, command: &str) -> String {
    format!("( {command} ) 2>&1; echo \"@@KLAB\"\"-DONE {id} $?@@\"\n")
}

/// The command and its number in a line made by [`command_line`] (without its newline).
pub fn parse_command_line(line: &str) -> Option<(u64, &str)> {
    let (command, tail) = line
        .strip_prefix("( ")?
        .rsplit_once(" ) 2>&1; echo \"@@KLAB\"\"-DONE ")?;
    let id = tail.strip_suffix(" $?@@\"")?.parse().ok()?;
    Some((id, command))
}

/// The sentinel the guest prints after command `id`'s output, newline included.
pub fn done_line(id: u64, status: i32) -> String {
    format!("{DONE_PREFIX}{id} {status}@@\n")
}

/// Recognises command `id`'s sentinel in a line of the command port: where it starts (the
/// text before it is the end of the command's output, when the output did not end with a
/// newline) and the exit status (-1 when it does not parse).
#[derive(Debug, Clone)]
pub struct Sentinel {
    tag: String,
}

impl Sentinel {
    pub fn of(id: u64) -> Sentinel {
        Sentinel {
            tag: format!("{DONE_PREFIX}{id} "),
        }
    }

    /// `Some((start, status))` when `line` holds the sentinel.
    pub fn find(&self, line: &str) -> Option<(usize, i32)> {
        let pos = line.find(&self.tag)?;
        let rest = &line[pos + self.tag.len()..];
        let status = rest
            .trim_end_matches("@@")
            .trim()
            .parse::<i32>()
            .unwrap_or(-1);
        Some((pos, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_parses_back() {
        let line = command_line(7, "cd /lab/a/b && X='1' sh ./test.sh");
        let line = line.strip_suffix('\n').unwrap();
        assert_eq!(
            parse_command_line(line),
            Some((7, "cd /lab/a/b && X='1' sh ./test.sh"))
        );
        assert_eq!(parse_command_line("echo b > /proc/sysrq-trigger"), None);
    }

    #[test]
    fn the_sentinel_is_found_after_output_and_only_for_its_command() {
        let done = done_line(3, 42);
        assert_eq!(Sentinel::of(3).find(done.trim_end()), Some((0, 42)));
        assert_eq!(Sentinel::of(3).find("tail@@KLAB-DONE 3 1@@"), Some((4, 1)));
        assert_eq!(Sentinel::of(4).find(done.trim_end()), None);
        assert_eq!(Sentinel::of(3).find("@@KLAB-DONE 3 x@@"), Some((0, -1)));
    }

    #[test]
    fn the_command_line_does_not_hold_its_own_sentinel() {
        let line = command_line(5, "true");
        assert_eq!(Sentinel::of(5).find(&line), None);
    }
}
