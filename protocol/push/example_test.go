package push_test

import (
	"fmt"
	"sort"

	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
)

func Example() {
	// A ventilator pushes jobs; two workers pull them, each job once, and
	// push the results to a collector.
	jobs, _ := push.New()
	defer jobs.Close()
	jobs.Listen("inproc://example-jobs")
	results, _ := pull.New()
	defer results.Close()
	results.Listen("inproc://example-results")

	for w := 0; w < 2; w++ {
		in, _ := pull.New()
		defer in.Close()
		out, _ := push.New()
		defer out.Close()
		in.Dial("inproc://example-jobs")
		out.Dial("inproc://example-results")
		go func() {
			for {
				job, err := in.Recv()
				if err != nil {
					return // closed
				}
				out.Send(append(job, " done"...))
			}
		}()
	}
	for i := 0; i < 4; i++ {
		jobs.Send([]byte(fmt.Sprint("job ", i)))
	}
	var done []string
	for i := 0; i < 4; i++ {
		b, _ := results.Recv()
		done = append(done, string(b))
	}
	sort.Strings(done)
	fmt.Println(done)
	// Output:
	// [job 0 done job 1 done job 2 done job 3 done]
}
