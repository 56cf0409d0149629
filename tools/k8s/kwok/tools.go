//go:build tools

// Package tools records the upstream main package this module builds (the kwok
// controller), so that `go mod tidy` keeps its dependencies.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
