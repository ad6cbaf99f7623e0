package node

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
)

// HostCapacity reads the machine's size: every CPU (in milli-CPU) and MemTotal from
// /proc/meminfo. The scheduler compares pod requests against it.
func HostCapacity() (api.Resources, error) {
	mem, err := memTotal("/proc/meminfo")
	if err != nil {
		return api.Resources{}, err
	}
	return api.Resources{MilliCPU: int64(runtime.NumCPU()) * 1000, MemoryBytes: mem}, nil
}

func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("host memory: parse %q: %w", sc.Text(), err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	return 0, fmt.Errorf("host memory: no MemTotal in %s", path)
}

// agentURL derives the advertised log endpoint from the node address and the listen
// address (whose host part is often empty or 0.0.0.0).
func agentURL(address, listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = address
	}
	return "https://" + net.JoinHostPort(host, port)
}
