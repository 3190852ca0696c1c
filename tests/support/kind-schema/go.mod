// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

// Generates tests/data/schemas/kind-v1alpha4.schema.json from kind's v1alpha4 Go types.
module k8s-dev/tests/support/kind-schema

go 1.22

require sigs.k8s.io/kind v0.33.0

require github.com/pkg/errors v0.9.1 // indirect
