// Command kubevalidate decodes every object of a multi-document YAML stream
// on stdin strictly against the Kubernetes API types (client-go's scheme):
// an unknown or misspelt field, a wrong type or an unknown built-in kind is
// an error. Kinds outside the scheme (CRDs such as ServiceMonitor) are listed
// and passed over. It exits 1 when any object fails.
//
// A module of its own so that client-go stays out of artifactapi's go.mod;
// deploy/deploy_test.go builds and runs it.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(in)))
	failed := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Printf("invalid YAML: %v\n", err)
			failed++
			continue
		}
		if s := string(bytes.TrimSpace(js)); s == "null" || s == "" {
			continue
		}
		_, gvk, err := decoder.Decode(js, nil, nil)
		switch {
		case err == nil:
			fmt.Printf("ok %s %s\n", gvk.GroupVersion(), gvk.Kind)
		case runtime.IsNotRegisteredError(err) && gvk != nil && gvk.Group != "":
			fmt.Printf("not built in %s %s\n", gvk.GroupVersion(), gvk.Kind)
		default:
			fmt.Printf("invalid: %v\n", err)
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}
