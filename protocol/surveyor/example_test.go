package surveyor_test

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/surveyor"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func Example() {
	s, _ := surveyor.New(surveyor.WithSurveyTime(10 * time.Second))
	defer s.Close()
	for _, name := range []string{"alice", "bob"} {
		r, _ := respondent.New()
		defer r.Close()
		url := "inproc://example-survey-" + name
		r.Listen(url)
		// A survey goes to the respondents connected at the time: dialing
		// returns once this one is.
		s.Dial(url)
		go func() {
			for {
				q, err := r.Recv()
				if err != nil {
					return
				}
				r.Send([]byte(name + " answers " + string(q)))
			}
		}()
	}

	s.Send([]byte("lunch?"))
	// Answers come until the survey time has passed; then Recv fails
	// with os.ErrDeadlineExceeded. Here we know how many to expect.
	var answers []string
	for len(answers) < 2 {
		b, err := s.Recv()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break // the survey is over
		}
		answers = append(answers, string(b))
	}
	sort.Strings(answers)
	fmt.Println(answers)
	// Output:
	// [alice answers lunch? bob answers lunch?]
}
