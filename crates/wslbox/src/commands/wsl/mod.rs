//! PLACEHOLDER written by the lead so the binary compiles; the Windows helper owns this module
//! and replaces this file entirely (keep the `WslCommand` + `run(cmd, ctx)` shape).

#[derive(Debug, clap::Subcommand)]
pub enum WslCommand {}

pub fn run(cmd: WslCommand, _ctx: &super::Context) -> anyhow::Result<()> {
    match cmd {}
}
