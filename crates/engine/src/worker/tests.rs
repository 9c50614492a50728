//! The job runner on real processes: output, environment, the private output directory,
//! process groups, and the gate that holds a command until its process is recorded.

use super::*;

use std::sync::Mutex;

fn request(command: &[&str]) -> JobRequest {
    JobRequest {
        instance: format!("t-{}", uuid::Uuid::now_v7()),
        task: "job".into(),
        attempt: 1,
        command: command.iter().map(|s| s.to_string()).collect(),
        workdir: None,
        env: vec![("GREETING".into(), "hello".into())],
        timeout_ms: Some(5_000),
        topic: None,
        data: serde_json::Map::new(),
    }
}

fn sh(script: &str) -> JobRequest {
    request(&["sh", "-c", script])
}

/// What a worker whose environment holds PATH, HOME and a secret would give its jobs.
fn settings() -> JobSettings {
    let worker_env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), "/home/baton".into()),
        ("API_TOKEN".into(), "s3cr3t".into()),
    ];
    JobSettings {
        inherited_env: PassEnv::Defaults.select(worker_env),
        kill_grace: Duration::from_secs(2),
    }
}

/// Runs a job to its end; the process it recorded is returned beside the outcome.
async fn run_recorded(
    request: &JobRequest,
    settings: &JobSettings,
    stop: oneshot::Receiver<Stop>,
) -> (JobRun, JobProcess) {
    let (run, process) = run_maybe_recorded(request, settings, stop).await;
    (run, process.expect("the job's process was recorded"))
}

async fn run_maybe_recorded(
    request: &JobRequest,
    settings: &JobSettings,
    stop: oneshot::Receiver<Stop>,
) -> (JobRun, Option<JobProcess>) {
    let recorded = Mutex::new(None);
    let run = run_job(request, settings, stop, |process| {
        *recorded.lock().unwrap() = Some(process);
        async { Ok(()) }
    })
    .await;
    (run, recorded.into_inner().unwrap())
}

async fn run(request: &JobRequest) -> JobOutcome {
    let (_stop, stop) = oneshot::channel();
    match run_maybe_recorded(request, &settings(), stop).await.0 {
        JobRun::Ended(outcome) => outcome,
        JobRun::Interrupted => panic!("nothing interrupted the job"),
    }
}

fn stdout_of(outcome: &JobOutcome) -> &str {
    match outcome {
        JobOutcome::Exited { stdout_tail, .. } => stdout_tail,
        other => panic!("the job did not exit: {other:?}"),
    }
}

/// `/proc/PID/stat`'s state and process group, read independently of the code under test.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = line[line.rfind(')')? + 1..].split_whitespace().collect();
    Some((rest[0].chars().next()?, rest[2].parse().ok()?))
}

/// Processes of group `pgid` that are alive (not zombies), by pid.
fn live_members(pgid: u32) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(state, group)| group == pgid && state != 'Z'))
        .collect();
    pids.sort_unstable();
    pids
}

fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| state != 'Z')
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn exit_zero_with_a_json_line_on_stdout_gives_output() {
    let JobOutcome::Exited { code, output, .. } =
        run(&sh("echo working; echo '{\"rows\": 3}'")).await
    else {
        panic!()
    };
    assert_eq!(code, 0);
    assert_eq!(
        output,
        Some(Map::from_iter([("rows".to_owned(), Value::from(3))]))
    );
}

#[tokio::test]
async fn output_written_to_baton_output_wins_and_env_is_passed() {
    let JobOutcome::Exited { output, .. } = run(&sh(
        "echo \"{\\\"said\\\": \\\"$GREETING\\\"}\" > \"$BATON_OUTPUT\"; echo '{\"x\": 1}'",
    ))
    .await
    else {
        panic!()
    };
    assert_eq!(
        output,
        Some(Map::from_iter([("said".to_owned(), Value::from("hello"))]))
    );
}

#[tokio::test]
async fn nonzero_exit_keeps_the_stderr_tail() {
    let JobOutcome::Exited {
        code, stderr_tail, ..
    } = run(&sh("echo broken >&2; exit 3")).await
    else {
        panic!()
    };
    assert_eq!(code, 3);
    assert_eq!(stderr_tail, "broken\n");
}

#[tokio::test]
async fn a_job_past_its_timeout_is_stopped() {
    let mut r = request(&["sleep", "5"]);
    r.timeout_ms = Some(100);
    assert!(matches!(run(&r).await, JobOutcome::TimedOut { .. }));
}

#[tokio::test]
async fn a_missing_program_could_not_start() {
    assert_eq!(
        run(&request(&["/no/such/program"])).await,
        JobOutcome::CouldNotStart {
            message: "/no/such/program: No such file or directory (os error 2)".into()
        }
    );
    assert_eq!(
        run(&request(&["no-such-program"])).await,
        JobOutcome::CouldNotStart {
            message: "no-such-program: not found in PATH (/usr/local/bin:/usr/bin:/bin)".into()
        }
    );
}

#[tokio::test]
async fn a_program_is_found_in_the_jobs_path_and_a_relative_one_in_its_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hi from $0\"\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut relative = request(&["./hello.sh"]);
    relative.workdir = Some(dir.path().to_str().unwrap().to_owned());
    assert_eq!(stdout_of(&run(&relative).await), "hi from ./hello.sh\n");

    let mut on_path = request(&["hello.sh"]);
    on_path
        .env
        .push(("PATH".into(), dir.path().to_str().unwrap().to_owned()));
    assert_eq!(
        stdout_of(&run(&on_path).await),
        format!("hi from {}\n", script.display())
    );
}

// ---------------------------------------------------------------------------------------
// The environment

/// A job gets exactly: PATH, HOME, LANG and TZ from the worker (those set), its declared
/// `env`, and Baton's four variables; not the worker's secret, and nothing the shell it
/// starts through adds.
#[tokio::test]
async fn a_job_gets_a_clean_environment_without_the_workers_other_variables() {
    let r = request(&["env"]);
    let outcome = run(&r).await;
    let mut vars: Vec<&str> = stdout_of(&outcome).lines().collect();
    vars.sort_unstable();
    let output = vars
        .iter()
        .find_map(|v| v.strip_prefix("BATON_OUTPUT="))
        .expect("BATON_OUTPUT is set")
        .to_owned();
    let instance = format!("BATON_INSTANCE={}", r.instance);
    let output_var = format!("BATON_OUTPUT={output}");
    assert_eq!(
        vars,
        [
            "BATON_ATTEMPT=1",
            instance.as_str(),
            output_var.as_str(),
            "BATON_TASK=job",
            "GREETING=hello",
            "HOME=/home/baton",
            "PATH=/usr/local/bin:/usr/bin:/bin"
        ]
    );
}

#[tokio::test]
async fn variables_the_operator_passes_reach_the_job() {
    let worker_env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("API_TOKEN".into(), "s3cr3t".into()),
        ("OTHER".into(), "x".into()),
    ];
    let settings = JobSettings {
        inherited_env: PassEnv::Names(vec!["API_TOKEN".into()]).select(worker_env),
        kill_grace: Duration::from_secs(2),
    };
    let (_stop, stop) = oneshot::channel();
    let (JobRun::Ended(outcome), _) = run_recorded(
        &sh("echo \"${API_TOKEN-unset} ${OTHER-unset}\""),
        &settings,
        stop,
    )
    .await
    else {
        panic!()
    };
    assert_eq!(stdout_of(&outcome), "s3cr3t unset\n");
}

/// Baton's own variables come last: a definition's `env` cannot point BATON_OUTPUT elsewhere.
#[tokio::test]
async fn a_definition_cannot_override_batons_own_variables() {
    let mut r = sh("echo \"$BATON_TASK $BATON_OUTPUT\"");
    r.env.push(("BATON_OUTPUT".into(), "/etc/passwd".into()));
    r.env.push(("BATON_TASK".into(), "other".into()));
    let outcome = run(&r).await;
    let stdout = stdout_of(&outcome);
    assert!(
        stdout.starts_with("job ")
            && stdout.ends_with("/output.json\n")
            && !stdout.contains("/etc/passwd"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// The output file

/// `$BATON_OUTPUT` is `output.json` in a directory of its own, mode 0700, made for this
/// attempt and gone once the attempt ended.
#[tokio::test]
async fn baton_output_is_in_a_private_directory_that_is_removed_after_the_attempt() {
    let outcome = run(&sh(
        "d=$(dirname \"$BATON_OUTPUT\"); echo \"$d\"; stat -c '%a %U' \"$d\"; ls -A \"$d\" | wc -l",
    ))
    .await;
    let lines: Vec<&str> = stdout_of(&outcome).lines().collect();
    let user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        lines[1..],
        [format!("700 {}", user.trim()).as_str(), "0"],
        "mode, owner and an empty directory: {lines:?}"
    );
    let dir = Path::new(lines[0]);
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("baton-job-"),
        "{}",
        dir.display()
    );
    assert!(
        !dir.exists(),
        "{} is removed after the attempt",
        dir.display()
    );
}

/// Another local user could plant a file or a symlink at the path Baton used to use
/// (`$TMPDIR/baton-output-INSTANCE-TASK-ATTEMPT.json`). The job below plays that user, then
/// writes its real output: the symlink's target is untouched and the planted JSON is not read.
#[tokio::test]
async fn a_file_or_symlink_planted_at_the_old_predictable_output_path_is_neither_read_nor_followed()
{
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("root-owned.conf");
    std::fs::write(&victim, "precious\n").unwrap();

    let mut follows = sh("ln -s \"$VICTIM\" \"$OLD\"; echo '{\"written\": 1}' > \"$BATON_OUTPUT\"");
    let old = std::env::temp_dir().join(format!(
        "baton-output-{}-{}-{}.json",
        follows.instance, follows.task, follows.attempt
    ));
    follows.env.extend([
        ("VICTIM".into(), victim.display().to_string()),
        ("OLD".into(), old.display().to_string()),
    ]);
    let JobOutcome::Exited { output, .. } = run(&follows).await else {
        panic!()
    };
    assert_eq!(
        output,
        Some(Map::from_iter([("written".to_owned(), Value::from(1))]))
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "the symlink was not followed"
    );
    std::fs::remove_file(&old).unwrap();

    let mut reads = sh("echo '{\"planted\": true}' > \"$OLD\"; echo done");
    let old = std::env::temp_dir().join(format!(
        "baton-output-{}-{}-{}.json",
        reads.instance, reads.task, reads.attempt
    ));
    reads.env.push(("OLD".into(), old.display().to_string()));
    let JobOutcome::Exited { output, .. } = run(&reads).await else {
        panic!()
    };
    assert_eq!(output, None, "the planted file was not read");
    std::fs::remove_file(&old).unwrap();
}

/// A FIFO (or anything but a regular file) at `$BATON_OUTPUT` is ignored with a note instead
/// of blocking the worker on its read.
#[tokio::test]
async fn a_fifo_at_baton_output_is_ignored_and_does_not_stall_the_worker() {
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        run(&sh("mkfifo \"$BATON_OUTPUT\"; echo '{\"x\": 1}'")),
    )
    .await
    .expect("the worker did not stall");
    let JobOutcome::Exited {
        code,
        output,
        stderr_tail,
        ..
    } = outcome
    else {
        panic!()
    };
    assert_eq!(
        (code, output, stderr_tail.as_str()),
        (
            0,
            None,
            "\n[baton] BATON_OUTPUT must be a regular file; it was ignored"
        )
    );
}

#[tokio::test]
async fn an_output_file_over_its_bound_is_ignored_with_a_note() {
    let JobOutcome::Exited {
        output,
        stderr_tail,
        ..
    } = run(&sh("head -c 1048577 /dev/zero > \"$BATON_OUTPUT\"")).await
    else {
        panic!()
    };
    assert_eq!(
        (output, stderr_tail.as_str()),
        (
            None,
            "\n[baton] BATON_OUTPUT holds more than 1048576 bytes; it was ignored"
        )
    );
}

// ---------------------------------------------------------------------------------------
// Process groups

/// `sh -c 'sleep 30 & sleep 30'`: at the timeout the background `sleep` (a grandchild of the
/// worker) is stopped with the shell, and no process of the job's group is left.
#[tokio::test]
async fn a_timeout_stops_the_whole_process_group_not_only_the_direct_child() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("background.pid");
    let mut r = sh("sleep 30 & echo $! > \"$PID_FILE\"; sleep 30");
    r.env
        .push(("PID_FILE".into(), pid_file.display().to_string()));
    r.timeout_ms = Some(300);
    let (_stop, stop) = oneshot::channel();
    let (run, process) = run_recorded(&r, &settings(), stop).await;
    assert!(
        matches!(run, JobRun::Ended(JobOutcome::TimedOut { .. })),
        "{run:?}"
    );
    let background = read_pid(&pid_file);
    assert!(
        !alive(background),
        "the background sleep {background} is stopped"
    );
    assert_eq!(live_members(process.pgid), Vec::<u32>::new());
    assert_eq!(
        process.pgid, process.pid,
        "the job's first process leads its own group"
    );
}

#[tokio::test]
async fn a_canceled_job_stops_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("background.pid");
    let mut r = sh("sleep 30 & echo $! > \"$PID_FILE\"; sleep 30");
    r.env
        .push(("PID_FILE".into(), pid_file.display().to_string()));
    r.timeout_ms = None;
    let (cancel, stop) = oneshot::channel();
    let canceling = tokio::spawn({
        let pid_file = pid_file.clone();
        async move {
            while !pid_file.exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            cancel.send(Stop::Cancel).unwrap();
        }
    });
    let (run, process) = run_recorded(&r, &settings(), stop).await;
    canceling.await.unwrap();
    assert!(
        matches!(run, JobRun::Ended(JobOutcome::TimedOut { .. })),
        "{run:?}"
    );
    assert!(!alive(read_pid(&pid_file)));
    assert_eq!(live_members(process.pgid), Vec::<u32>::new());
}

/// A job that exits OK but leaves a background process behind: the process is stopped with
/// the job, so nothing of an ended attempt runs on.
#[tokio::test]
async fn processes_a_job_leaves_running_when_it_ends_are_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("background.pid");
    let mut r = sh("sleep 30 >/dev/null 2>&1 & echo $! > \"$PID_FILE\"; echo '{\"ok\": true}'");
    r.env
        .push(("PID_FILE".into(), pid_file.display().to_string()));
    let (_stop, stop) = oneshot::channel();
    let (run, process) = run_recorded(&r, &settings(), stop).await;
    let JobRun::Ended(JobOutcome::Exited {
        code: 0, output, ..
    }) = run
    else {
        panic!("{run:?}")
    };
    assert_eq!(
        output,
        Some(Map::from_iter([("ok".to_owned(), Value::from(true))]))
    );
    assert!(!alive(read_pid(&pid_file)));
    assert_eq!(live_members(process.pgid), Vec::<u32>::new());
}

/// A process that ignores SIGTERM gets SIGKILL once the kill grace is over.
#[tokio::test]
async fn a_job_that_ignores_sigterm_is_killed_after_the_kill_grace() {
    let mut r = sh("trap '' TERM; sleep 30 & sleep 30");
    r.timeout_ms = Some(200);
    let settings = JobSettings {
        kill_grace: Duration::from_millis(300),
        ..settings()
    };
    let (_stop, stop) = oneshot::channel();
    let began = Instant::now();
    let (run, process) = run_recorded(&r, &settings, stop).await;
    assert!(
        matches!(run, JobRun::Ended(JobOutcome::TimedOut { .. })),
        "{run:?}"
    );
    assert_eq!(live_members(process.pgid), Vec::<u32>::new());
    assert!(
        began.elapsed() >= Duration::from_millis(500),
        "SIGKILL came only after the grace"
    );
}

/// Stopped for a shutdown, a job has no outcome (it runs again as a new attempt), and its
/// processes are gone.
#[tokio::test]
async fn a_job_stopped_for_shutdown_is_interrupted_and_its_processes_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("background.pid");
    let mut r = sh("sleep 30 & echo $! > \"$PID_FILE\"; sleep 30");
    r.env
        .push(("PID_FILE".into(), pid_file.display().to_string()));
    let (shutdown, stop) = oneshot::channel();
    let stopping = tokio::spawn({
        let pid_file = pid_file.clone();
        async move {
            while !pid_file.exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            shutdown.send(Stop::Shutdown).unwrap();
        }
    });
    let (run, process) = run_recorded(&r, &settings(), stop).await;
    stopping.await.unwrap();
    assert_eq!(run, JobRun::Interrupted);
    assert!(!alive(read_pid(&pid_file)));
    assert_eq!(live_members(process.pgid), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------------
// The gate

/// The command starts only after its process was recorded: while the worker records it (slowly
/// here), the command has not run.
#[tokio::test]
async fn the_command_does_not_start_before_its_process_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let mut r = sh("touch \"$MARKER\"");
    r.env.push(("MARKER".into(), marker.display().to_string()));
    let ran_while_recording = AtomicBool::new(true);
    let (_stop, stop) = oneshot::channel();
    let run = run_job(&r, &settings(), stop, |process| {
        let (marker, seen) = (&marker, &ran_while_recording);
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            seen.store(marker.exists(), Ordering::SeqCst);
            assert!(alive(process.pid), "the job's process waits at the gate");
            Ok(())
        }
    })
    .await;
    assert!(
        matches!(run, JobRun::Ended(JobOutcome::Exited { code: 0, .. })),
        "{run:?}"
    );
    assert!(
        !ran_while_recording.load(Ordering::SeqCst),
        "the command ran before its process was recorded"
    );
    assert!(marker.exists(), "the command ran once recorded");
}

#[tokio::test]
async fn a_job_whose_process_cannot_be_recorded_never_runs_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let mut r = sh("touch \"$MARKER\"");
    r.env.push(("MARKER".into(), marker.display().to_string()));
    let pid = Mutex::new(0);
    let (_stop, stop) = oneshot::channel();
    let run = run_job(&r, &settings(), stop, |process| {
        *pid.lock().unwrap() = process.pid;
        async { Err("the store has shut down".to_owned()) }
    })
    .await;
    assert_eq!(
        run,
        JobRun::Ended(JobOutcome::CouldNotStart {
            message: "recording the job's process: the store has shut down".into()
        })
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!marker.exists());
    assert!(!alive(pid.into_inner().unwrap()));
}

/// If the worker dies while the job waits at its gate, the gate's pipe closes and the command
/// never runs: the gate shell exits without `exec`.
#[test]
fn the_gate_exits_without_running_the_command_when_the_worker_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let status = std::process::Command::new(GATE_SHELL)
        .arg("-c")
        .arg(gate_script(&[]))
        .args(["baton-job", "/usr/bin/touch"])
        .arg(&marker)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(125));
    assert!(!marker.exists());
}
