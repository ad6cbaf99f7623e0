package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
)

// handleResolve is /resolve?name=&type=: a lookup through the container's own resolver
// configuration (/etc/resolv.conf and /etc/hosts, read by Go's resolver), so tests see
// names as the pod's applications do. type is A (default; the IPv4 addresses), SRV
// (the full _port._proto name; "target port" lines), CNAME (the canonical name) or
// host (addresses, /etc/hosts first). A name that does not exist answers 404.
func handleResolve(w http.ResponseWriter, r *http.Request) {
	name, typ := r.URL.Query().Get("name"), strings.ToUpper(r.URL.Query().Get("type"))
	if name == "" {
		http.Error(w, "missing ?name=", http.StatusBadRequest)
		return
	}
	res := &net.Resolver{PreferGo: true}
	ctx := r.Context()
	var lines []string
	var err error
	switch typ {
	case "", "A":
		var ips []net.IP
		if ips, err = res.LookupIP(ctx, "ip4", name); err == nil {
			for _, ip := range ips {
				lines = append(lines, ip.String())
			}
		}
	case "HOST":
		lines, err = res.LookupHost(ctx, name)
	case "SRV":
		var srvs []*net.SRV
		if _, srvs, err = res.LookupSRV(ctx, "", "", name); err == nil {
			for _, s := range srvs {
				lines = append(lines, fmt.Sprintf("%s %d", s.Target, s.Port))
			}
		}
	case "CNAME":
		var cname string
		if cname, err = res.LookupCNAME(ctx, name); err == nil {
			lines = []string{cname}
		}
	default:
		http.Error(w, "type must be A, host, SRV or CNAME", http.StatusBadRequest)
		return
	}
	if err != nil {
		status := http.StatusBadGateway
		if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
			status = http.StatusNotFound
		}
		http.Error(w, err.Error(), status)
		return
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
