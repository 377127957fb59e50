package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

type exportOptions struct {
	*globalOptions
	Model string
	From  checkpointFlags
	Out   string
}

func newExportCmd(g *globalOptions) *cobra.Command {
	o := &exportOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "export MODEL -o FILE",
		Short: "Write a checkpoint's weights alone (no optimiser state) as safetensors",
		Long: "export writes the model's parameters and buffers, with the checkpoint's metadata, to a\n" +
			"smaller safetensors file that sample, eval and PyTorch's load_state_dict read. A run that\n" +
			"kept a moving average of its weights (ema) exports the average, the model it evaluated.",
		Example: "  aigc export classifier --run runs/classifier -o models/classifier.safetensors",
		Args:    oneModel,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			return runExport(o)
		},
	}
	o.From.bind(cmd)
	cmd.Flags().StringVarP(&o.Out, "out", "o", "", "output file (required)")
	return cmd
}

func runExport(o *exportOptions) error {
	if o.Out == "" {
		return usageError{fmt.Errorf("export needs -o FILE")}
	}
	if _, err := train.CheckOutput(o.Out, train.WeightsOutput); err != nil {
		return usageError{err}
	}
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	var weights []checkpoints.Tensor
	for _, t := range models.StateTensors(l.Model) {
		if !strings.HasPrefix(t.Name, "optim.") {
			weights = append(weights, t)
		}
	}
	if err := checkpoints.Write(o.Out, weights, l.Meta.Encode()); err != nil {
		return err
	}
	fmt.Fprintf(o.globalOptions.Out, "wrote %d tensors of %s (step %d) to %s\n", len(weights), l.Path, l.Meta.Step, o.Out)
	return nil
}
