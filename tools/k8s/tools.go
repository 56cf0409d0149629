//go:build tools

// Package tools records the upstream main packages this module builds, so that
// `go mod tidy` keeps their dependencies. Built by tools/local_k8s.py.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
