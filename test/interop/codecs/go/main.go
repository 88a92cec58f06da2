// The Go peer of test/interop/codecs.test.ts: OpenTelemetry Go's own baggage codec run on the
// header values the test writes to stdin, one per line. For each it prints one JSON line: what
// propagation.Baggage re-injects after extracting the value, how many different serialisations
// repeated injects of that same baggage produced, and what baggage.Parse alone returns (members
// or its error). Nothing here interprets the result: the test does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

type property struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type member struct {
	Key        string     `json:"key"`
	Value      string     `json:"value"`
	Properties []property `json:"properties"`
}

type result struct {
	Input string `json:"input"`
	// The header Inject wrote after Extract; null when it wrote none.
	Injected *string `json:"injected"`
	// Distinct headers written by 32 injects of the same extracted baggage.
	InjectOrders int `json:"injectOrders"`
	// baggage.Parse on the value: its members (in the order Members returns them), or its error.
	Members []member `json:"members"`
	Error   *string  `json:"error"`
}

func run(input string) result {
	out := result{Input: input, Members: []member{}}
	prop := propagation.Baggage{}
	ctx := prop.Extract(context.Background(), propagation.MapCarrier{"baggage": input})
	seen := map[string]bool{}
	for i := 0; i < 32; i++ {
		carrier := propagation.MapCarrier{}
		prop.Inject(ctx, carrier)
		if value, ok := carrier["baggage"]; ok {
			if out.Injected == nil {
				v := value
				out.Injected = &v
			}
			seen[value] = true
		}
	}
	out.InjectOrders = len(seen)

	bag, err := baggage.Parse(input)
	if err != nil {
		msg := err.Error()
		out.Error = &msg
	}
	for _, m := range bag.Members() {
		props := []property{}
		for _, p := range m.Properties() {
			prop := property{Key: p.Key()}
			if v, ok := p.Value(); ok {
				prop.Value = &v
			}
			props = append(props, prop)
		}
		out.Members = append(out.Members, member{Key: m.Key(), Value: m.Value(), Properties: props})
	}
	return out
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<22)
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	for scanner.Scan() {
		if err := encoder.Encode(run(scanner.Text())); err != nil {
			os.Exit(2)
		}
	}
	if scanner.Err() != nil {
		os.Exit(3)
	}
}
