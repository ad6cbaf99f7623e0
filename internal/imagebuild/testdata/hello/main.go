// Command hello is the test workload of Keelson's runtime tests: one static binary
// whose subcommands give each container of a test pod a different behaviour.
//
//	hello serve ADDR [-ignore-term] [-write PATH=TEXT]  HTTP server: / answers "hello from HOST",
//	                                                    /call?url=U fetches U; SIGTERM exits 0
//	hello fetch URL                                     print the body of URL, exit 1 on error
//	hello cat PATH                                      print a file
//	hello exit CODE                                     exit with CODE
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		os.Args = append(os.Args, "serve", ":8080")
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "fetch":
		err = fetch(os.Args[2:])
	case "cat":
		err = cat(os.Args[2:])
	case "exit":
		code, convErr := strconv.Atoi(arg(os.Args[2:], 0))
		if convErr != nil {
			err = convErr
			break
		}
		fmt.Println("exiting with", code)
		os.Exit(code)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func serve(args []string) error {
	addr := ":8080"
	ignoreTerm := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-ignore-term":
			ignoreTerm = true
		case a == "-write" && i+1 < len(args):
			i++
			path, text, _ := strings.Cut(args[i], "=")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return err
			}
		default:
			addr = a
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		for range sigs {
			if ignoreTerm {
				fmt.Println("SIGTERM ignored")
				continue
			}
			fmt.Println("SIGTERM: bye")
			os.Exit(0)
		}
	}()
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		body, err := get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Write(body)
	})
	fmt.Println("listening on", addr)
	return http.ListenAndServe(addr, mux)
}

func get(url string) ([]byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func fetch(args []string) error {
	body, err := get(arg(args, 0))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(body)
	return err
}

func cat(args []string) error {
	data, err := os.ReadFile(arg(args, 0))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(data)
	return err
}
