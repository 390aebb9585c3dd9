package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child die with the suite: a suite killed
// mid-run leaves no Saathi processes behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
