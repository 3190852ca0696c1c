// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

include!("../build_info.rs");

fn main() {
    emit_build_info();
}
