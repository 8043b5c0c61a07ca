package tz

import "os/exec"

var execCommand = exec.Command
