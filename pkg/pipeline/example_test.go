package pipeline_test

import (
	"context"
	"fmt"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Two stages pass a typed handoff: the runner orders them by what they need
// and give, and the second reads an int, not an interface{} to assert.
func Example() {
	build := pipeline.Func("build", nil, []handoff.Def{handoff.TemplateID},
		func(ctx context.Context, j *pipeline.Job) error {
			return handoff.TemplateID.Put(j.Out, 8025)
		})
	provision := pipeline.Func("provision", []handoff.Def{handoff.TemplateID}, nil,
		func(ctx context.Context, j *pipeline.Job) error {
			id, err := handoff.TemplateID.Get(j.In)
			if err != nil {
				return err
			}
			fmt.Println("cloning template", id)
			return nil
		})
	p, err := pipeline.New(provision, build) // any order: the handoffs decide
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := p.Run(context.Background(), pipeline.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range sum.Stages {
		fmt.Println(s.Name, s.Status)
	}
	// Output:
	// cloning template 8025
	// build succeeded
	// provision succeeded
}

// A stage run alone takes its input from an argument, the environment or
// the store, and says how to give it when none has it.
func ExamplePipeline_Run_missingHandoff() {
	provision := pipeline.Func("provision", []handoff.Def{handoff.TemplateID}, nil,
		func(ctx context.Context, j *pipeline.Job) error { return nil })
	p, _ := pipeline.New(provision)
	_, err := p.Run(context.Background(), pipeline.Options{Getenv: func(string) string { return "" }})
	fmt.Println(err != nil)
	_, err = p.Run(context.Background(), pipeline.Options{Args: map[string]string{"template_id": "8025"}})
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}
