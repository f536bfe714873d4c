//! The WSL host on Windows: wsl.exe, the Lxss registry, Terminal fragments and Start Menu shortcuts.
