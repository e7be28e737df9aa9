//! `tessel ping`: asks the running node to ping a member once a second
//! (the control API's `ping`) and prints each reply as a row of a table,
//! or with `--json` one object per reply (`{"target":…,"timeout":true}`
//! for a ping that got none).

use anyhow::{bail, Result};
use tessel_overlay::driver::control::answers::PingAnswer;
use tessel_overlay::driver::control::{ErrorCode, Request};

use crate::cli::PingArgs;
use crate::local::{self, AskError};
use crate::table::fixed_line;

/// The columns of a reply row, and their widths (the node ID's is set by
/// the first reply).
const COLUMNS: [&str; 4] = ["SEQ", "RTT", "FROM", "PATH"];

/// Runs `tessel ping`.
pub(crate) fn run(args: &PingArgs) -> Result<()> {
    let request = Request::Ping {
        target: args.peer.clone(),
    };
    let mut answered = 0;
    let mut widths: Option<[usize; 4]> = None;
    for seq in 1..=args.count {
        if seq > 1 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let reply = match local::ask::<PingAnswer>(&args.dirs, &request) {
            Ok(r) => r,
            Err(AskError::Refused(e)) if e.is(ErrorCode::Timeout) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "target": args.peer, "timeout": true })
                    );
                } else {
                    println!(
                        "{}",
                        fixed_line(
                            &[
                                &seq.to_string(),
                                "-",
                                &args.peer,
                                "no reply (a session may still be starting)"
                            ],
                            &widths.unwrap_or([3, 9, 0, 0]),
                        )
                    );
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        answered += 1;
        if args.json {
            reply.print_json(true)?;
            continue;
        }
        let w = *widths.get_or_insert_with(|| {
            let w = [3, 9, reply.peer.chars().count(), 0];
            println!("{}", fixed_line(&COLUMNS, &w));
            w
        });
        let how = match (reply.path.as_str(), &reply.relay, &reply.endpoint) {
            ("relay", Some(r), _) => format!("relay {r}"),
            ("direct", _, Some(e)) => format!("direct {e}"),
            _ => "no known path".to_owned(),
        };
        let rtt = format!("{:.1} ms", reply.rtt_ms);
        println!(
            "{}",
            fixed_line(&[&seq.to_string(), &rtt, &reply.peer, &how], &w)
        );
    }
    if answered == 0 {
        bail!("no reply from {}", args.peer);
    }
    Ok(())
}
