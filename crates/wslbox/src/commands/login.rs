//! `wslbox login` / `logout`: credentials stored where `docker login` stores them.

use std::io::Read;

use anyhow::{Context as _, bail};
use wslbox_reference::DOCKER_HUB_REGISTRY;

use super::Context;
use crate::cli::{LoginArgs, LogoutArgs};
use crate::printer;

pub fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let registry = args.registry.as_deref().unwrap_or(DOCKER_HUB_REGISTRY);
    let mut password = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!(
            "no password on stdin; pipe it in, e.g. `echo $TOKEN | wslbox login {registry} -u {} --password-stdin`",
            args.username
        );
    }
    let client = wslbox_source::client(&ctx.open_options()?)?;
    let location =
        wslbox_source::runtime()?.block_on(client.login(registry, &args.username, password))?;
    printer::line(format!(
        "Login succeeded for {} (stored in {location})",
        wslbox_registry::registry_name(registry)
    ));
    Ok(())
}

pub fn logout(ctx: &Context, args: LogoutArgs) -> anyhow::Result<()> {
    let registry = args.registry.as_deref().unwrap_or(DOCKER_HUB_REGISTRY);
    let client = wslbox_source::client(&ctx.open_options()?)?;
    let removed = client.logout(registry)?;
    let name = wslbox_registry::registry_name(registry);
    if removed.is_empty() {
        bail!("not logged in to {name}: no stored credentials found");
    }
    for location in removed {
        printer::line(format!(
            "Removed login credentials for {name} from {location}"
        ));
    }
    Ok(())
}
