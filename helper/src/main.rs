// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::process::ExitCode;

use k8s_dev_helper::{cli, exit};

fn main() -> ExitCode {
    let Err(err) = cli::run(cli::parse()) else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {err:#}");
    ExitCode::from(exit::code_of(&err))
}
