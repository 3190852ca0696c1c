// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

// Command kind-schema prints a JSON schema (draft-07) of kind's cluster config,
// kind.x-k8s.io/v1alpha4, derived from the Go types kind decodes it into, so the kit's tests
// check deploy/kind/cluster.yaml and its renderings offline.
//
// The structure comes from reflection over v1alpha4.Cluster: YAML field names from the `yaml`
// tags, JSON types from the Go kinds, and additionalProperties false everywhere because kind
// decodes strictly (yaml.v3 KnownFields, pkg/internal/apis/config/encoding/load.go).
// The constraints kind applies beyond the types are listed in `constraints` below, each with
// the kind source it repeats. Field descriptions are left to kind's documentation.
//
// Run from this directory (needs the Go module proxy once):
//
//	go run . > ../../data/schemas/kind-v1alpha4.schema.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

type schema = map[string]any

const module = "sigs.k8s.io/kind"

// Constraints kind checks after decoding, keyed by Go type name (for named types) or
// "Type.Field".
var constraints = map[string]schema{
	// encoding/load.go: only this apiVersion and kind are decoded.
	"TypeMeta.APIVersion": {"const": "kind.x-k8s.io/v1alpha4"},
	"TypeMeta.Kind":       {"const": "Cluster"},
	// internal/apis/config/validate.go validNameRE.
	"Cluster.Name": {"pattern": "^[a-z0-9.-]+$"},
	// validate.go Node.Validate; "" is defaulted to control-plane (v1alpha4 SetDefaultsNode).
	"NodeRole": {"enum": []string{"", "control-plane", "worker"}},
	// validate.go: ipv4, ipv6 or dual; "" is defaulted to ipv4.
	"ClusterIPFamily": {"enum": []string{"", "ipv4", "ipv6", "dual"}},
	// validate.go: the internal type also accepts "none"; "" is defaulted to iptables.
	"ProxyMode": {"enum": []string{"", "iptables", "ipvs", "nftables", "none"}},
	// v1alpha4/yaml.go Mount.UnmarshalYAML.
	"MountPropagation": {"enum": []string{"", "None", "HostToContainer", "Bidirectional"}},
	// v1alpha4/yaml.go PortMapping.UnmarshalYAML upper-cases before checking.
	"PortMappingProtocol": {"pattern": "^([Tt][Cc][Pp]|[Uu][Dd][Pp]|[Ss][Cc][Tt][Pp])?$"},
	// validate.go validatePort: -1 lets the engine pick, 0 lets kind pick.
	"PortMapping.ContainerPort": {"minimum": -1, "maximum": 65535},
	"PortMapping.HostPort":      {"minimum": -1, "maximum": 65535},
	"Networking.APIServerPort":  {"minimum": -1, "maximum": 65535},
	// validate.go validatePortMappings: net.ParseIP, "" means the wildcard address.
	"PortMapping.ListenAddress": {"anyOf": []schema{{"const": ""}, {"format": "ipv4"}, {"format": "ipv6"}}},
}

// Whole-object constraints, keyed by Go type name.
var objectConstraints = map[string]schema{
	"TypeMeta": {"required": []string{"apiVersion", "kind"}},
	// validate.go: at least one control-plane node (an empty list is defaulted to one).
	"Cluster": {"properties": schema{"nodes": schema{"anyOf": []schema{
		{"maxItems": 0},
		{"contains": schema{"anyOf": []schema{
			{"not": schema{"required": []string{"role"}}},
			{"properties": schema{"role": schema{"enum": []string{"", "control-plane"}}}},
		}}},
	}}}},
}

func main() {
	version := kindVersion()
	defs := schema{}
	root := object(reflect.TypeOf(v1alpha4.Cluster{}), defs)
	out := schema{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"$comment": fmt.Sprintf("Derived from %s %s pkg/apis/config/v1alpha4 by tests/support/kind-schema "+
			"(reflection over the Go types, strict decoding, and the constraints of encoding/load.go, "+
			"v1alpha4/yaml.go and internal/apis/config/validate.go); regenerate it there with `go run .`.",
			module, version),
		"title":       "kind Cluster (kind.x-k8s.io/v1alpha4)",
		"definitions": defs,
	}
	for k, v := range root {
		out[k] = v
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

// object is the schema of struct type t, with its named non-struct field types in defs.
func object(t reflect.Type, defs schema) schema {
	props := schema{}
	out := schema{"type": "object", "properties": props, "additionalProperties": false}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			inner := object(f.Type, defs)
			for k, v := range inner["properties"].(schema) {
				props[k] = v
			}
			if r, ok := inner["required"].([]string); ok {
				required = append(required, r...)
			}
			continue
		}
		s := typeSchema(f.Type, defs)
		for k, v := range constraints[t.Name()+"."+f.Name] {
			s[k] = v
		}
		props[name] = s
	}
	for k, v := range objectConstraints[t.Name()] {
		switch k {
		case "required":
			required = append(required, v.([]string)...)
		case "properties":
			for field, extra := range v.(schema) {
				// Combine with the generated property schema.
				props[field] = schema{"allOf": []schema{props[field].(schema), extra.(schema)}}
			}
		}
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func typeSchema(t reflect.Type, defs schema) schema {
	switch t.Kind() {
	case reflect.Ptr:
		// A nil pointer is written as null.
		inner := typeSchema(t.Elem(), defs)
		return schema{"anyOf": []schema{inner, {"type": "null"}}}
	case reflect.Struct:
		return object(t, defs)
	case reflect.Slice:
		return schema{"type": "array", "items": typeSchema(t.Elem(), defs)}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": typeSchema(t.Elem(), defs)}
	case reflect.String:
		if t.Name() != "string" && t.PkgPath() != "" {
			if _, done := defs[t.Name()]; !done {
				def := schema{"type": "string"}
				for k, v := range constraints[t.Name()] {
					def[k] = v
				}
				defs[t.Name()] = def
			}
			return schema{"$ref": "#/definitions/" + t.Name()}
		}
		return schema{"type": "string"}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int32:
		return schema{"type": "integer", "minimum": -2147483648, "maximum": 2147483647}
	}
	panic(fmt.Sprintf("kind-schema: no rule for %s (%s)", t, t.Kind()))
}

// kindVersion is the version of sigs.k8s.io/kind this program was built with.
func kindVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == module {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}
