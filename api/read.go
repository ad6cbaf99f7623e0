package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on hostile input. A manifests repository is written by people, so real files
// are far below them; they exist so that a bad commit cannot exhaust a server.
const (
	// MaxFileSize is the largest manifest file accepted.
	MaxFileSize = 4 << 20
	// maxDocuments is the most YAML documents in one file.
	maxDocuments = 10000
	// maxDepth is the deepest nesting of maps and lists in one document.
	maxDepth = 64
	// maxNodes bounds the nodes visited in one document after alias expansion, which is
	// what defeats "billion laughs" alias bombs.
	maxNodes = 1 << 20
	// maxErrorsPerFile keeps a garbage file from flooding the output.
	maxErrorsPerFile = 100
)

// readDocuments splits one file into its YAML (or JSON) documents. Empty documents are
// dropped. It stops at the first syntax error: a YAML reader cannot resynchronise.
func readDocuments(f File) ([]*yaml.Node, []FieldError) {
	filePos := Position{File: f.Path}
	if len(f.Data) > MaxFileSize {
		return nil, []FieldError{{Pos: filePos, Message: fmt.Sprintf("file is %d bytes, larger than the %d bytes limit", len(f.Data), MaxFileSize)}}
	}
	if !utf8.Valid(f.Data) {
		return nil, []FieldError{{Pos: filePos, Message: "file is not valid UTF-8"}}
	}
	data := bytes.TrimPrefix(f.Data, []byte("\uFEFF"))
	if looksLikeJSON(data) {
		data = unescapeJSONSlashes(data)
	}
	docs, err := decodeYAMLDocuments(data)
	var out []*yaml.Node
	var errs []FieldError
	for _, d := range docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // a document of only comments
		}
		if n := tooDeep(root); n != nil {
			errs = append(errs, FieldError{Pos: nodePos(f.Path, n), Message: fmt.Sprintf("document nests deeper than %d levels", maxDepth)})
			continue
		}
		out = append(out, root)
	}
	if err != nil {
		errs = append(errs, yamlError(f.Path, err))
	}
	return out, errs
}

// decodeYAMLDocuments runs the YAML reader. yaml.v3 is third-party code fed with
// untrusted input, so a panic inside it is turned into an error: one bad file must not
// take down a server.
func decodeYAMLDocuments(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if len(docs) == maxDocuments {
			return docs, fmt.Errorf("yaml: more than %d documents in one file", maxDocuments)
		}
		docs = append(docs, &n)
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: did not find ...") into a
// positioned FieldError.
func yamlError(path string, err error) FieldError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return FieldError{Pos: Position{File: path, Line: line}, Message: "invalid YAML: " + m[2]}
	}
	if rest, ok := bytes.CutPrefix([]byte(msg), []byte("yaml: ")); ok {
		msg = string(rest)
	}
	return FieldError{Pos: Position{File: path}, Message: "invalid YAML: " + msg}
}

// tooDeep returns the first node nested deeper than maxDepth, or nil. Aliases are not
// followed (an alias cycle is impossible in a tree yaml.v3 built, but expansion is
// bounded separately).
func tooDeep(root *yaml.Node) *yaml.Node {
	type item struct {
		n     *yaml.Node
		depth int
	}
	stack := []item{{root, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > maxDepth {
			return it.n
		}
		for _, c := range it.n.Content {
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return nil
}

func nodePos(file string, n *yaml.Node) Position {
	return Position{File: file, Line: n.Line, Column: n.Column}
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// unescapeJSONSlashes rewrites the JSON escape `\/` as `/`: JSON allows it, YAML (whose
// reader Keelson uses for JSON too, to get positions) does not.
func unescapeJSONSlashes(data []byte) []byte {
	if !bytes.Contains(data, []byte(`\/`)) {
		return data
	}
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(data):
			if data[i+1] == '/' {
				out = append(out, '/')
			} else {
				out = append(out, c, data[i+1])
			}
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}
