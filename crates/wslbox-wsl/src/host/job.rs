//! wsl.exe dies with wslbox: the process puts itself in a job object that kills every process
//! in it when its last handle closes, and its children inherit the job (what cargo does for its
//! compilers, `cargo::util::job`). A wslbox killed from Task Manager, or by a CI timeout, then
//! leaves no `wsl --import` running on, and the journal's recovery (`host::recover`) never
//! races a wsl.exe that is still registering what it is about to undo.

use windows::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject,
};
use windows::Win32::System::Threading::GetCurrentProcess;
use windows::core::PCWSTR;

/// Ties the processes this one starts from now on to its life. Best effort: where a job cannot
/// be made (a parent's job that forbids nesting), children outlive wslbox as before.
#[allow(unsafe_code)] // Three plain Win32 calls on a handle we own.
pub fn children_die_with_this_process() {
    // SAFETY: CreateJobObjectW gets no attributes and no name and returns an owned handle.
    let Ok(job) = (unsafe { CreateJobObjectW(None, PCWSTR::null()) }) else {
        return;
    };
    let mut info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    let size = u32::try_from(std::mem::size_of_val(&info)).expect("a small struct");
    // SAFETY: `info` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of `size` bytes for
    // the class that names that struct, alive for the call.
    let limited = unsafe {
        SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            std::ptr::from_ref(&info).cast(),
            size,
        )
    };
    if limited.is_ok() {
        // SAFETY: `job` is the handle made above; GetCurrentProcess is a pseudo-handle.
        let _ = unsafe { AssignProcessToJobObject(job, GetCurrentProcess()) };
    }
    // `job` is never closed: its handle closing, when this process ends however it ends, is
    // what kills the processes in the job.
}
