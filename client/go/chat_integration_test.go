package sextant_test

import (
	"errors"
	"strings"
	"testing"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
	"google.golang.org/grpc/codes"
)

func TestChat(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := makeFAQ(t, ctx, c, "chat")

	msgs := []sextant.ChatMessage{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: nitrogenQuestion},
	}
	first, err := col.Chat(ctx, msgs, sextant.ChatOptions{AskOptions: sextant.AskOptions{K: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Citations) == 0 || first.Citations[0].DocumentID != "nitrogen" || first.FinishReason != "stop" ||
		len(first.Messages) != 1 || first.Messages[0].Role != "assistant" {
		t.Fatalf("Chat = %+v", first)
	}
	msgs = append(msgs, first.Messages...)
	msgs = append(msgs, sextant.ChatMessage{Role: "user", Content: "and what do laboratories use it for?"})
	var pieces []string
	temp := float32(0.2)
	ans, err := col.ChatStream(ctx, msgs, sextant.ChatOptions{AskOptions: sextant.AskOptions{K: 2},
		Generation: sextant.GenerationSettings{Temperature: &temp}}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != ans.Text || !strings.HasPrefix(ans.StandaloneQuestion, nitrogenQuestion) ||
		ans.Citations[0].DocumentID != "nitrogen" {
		t.Errorf("ChatStream = %+v, pieces %q", ans, pieces)
	}

	for _, tc := range []struct {
		msgs   []sextant.ChatMessage
		opts   sextant.ChatOptions
		code   codes.Code
		needle string
	}{
		{nil, sextant.ChatOptions{}, codes.InvalidArgument, "messages: empty"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}},
			sextant.ChatOptions{}, codes.InvalidArgument, "messages[1]: the last message must be"},
		{[]sextant.ChatMessage{{Role: "oracle", Content: "hi"}}, sextant.ChatOptions{}, codes.InvalidArgument,
			"messages[0]: unknown role"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}, {Role: "tool", ToolCallID: "c1", Content: "x"}},
			sextant.ChatOptions{}, codes.InvalidArgument, "messages[1]: tool message answers"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}}, sextant.ChatOptions{ToolsAuto: true},
			codes.FailedPrecondition, "cannot call functions"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}}, sextant.ChatOptions{Rewrite: "maybe"},
			codes.InvalidArgument, "rewrite"},
	} {
		_, err := col.Chat(ctx, tc.msgs, tc.opts)
		var se *sextant.Error
		if !errors.As(err, &se) || se.Code() != tc.code || !strings.Contains(err.Error(), tc.needle) {
			t.Errorf("Chat(%v) = %v, want %v containing %q", tc.msgs, err, tc.code, tc.needle)
		}
	}
}
