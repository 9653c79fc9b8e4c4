package voice_test

import (
	"context"

	"github.com/bwmarrin/discordgo"

	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// The wiring for discordgo's main gateway: after
// ChannelVoiceJoinManual (which asks to join without discordgo's own
// voice connection), its two voice events, for the bot's own user,
// become the two updates Connect takes; a later VOICE_SERVER_UPDATE moves
// the connection. No Discord is reached here: the session is only built.
func Example_discordgo() {
	s, err := discordgo.New("Bot " + "token")
	if err != nil {
		panic(err)
	}
	const guildID, channelID = "41771983423143937", "41771983423143938"
	servers := make(chan voice.ServerUpdate, 1)
	states := make(chan voice.StateUpdate, 1)
	s.AddHandler(func(_ *discordgo.Session, e *discordgo.VoiceServerUpdate) {
		if e.GuildID == guildID && e.Endpoint != "" { // "": a server being reallocated
			servers <- voice.ServerUpdate{Endpoint: e.Endpoint, Token: e.Token, GuildID: e.GuildID}
		}
	})
	s.AddHandler(func(s *discordgo.Session, e *discordgo.VoiceStateUpdate) {
		if s.State.User != nil && e.UserID == s.State.User.ID && e.ChannelID != "" {
			states <- voice.StateUpdate{UserID: e.UserID, SessionID: e.SessionID, ChannelID: e.ChannelID}
		}
	})
	join := func(ctx context.Context) (*voice.Conn, error) {
		// after s.Open(): s.ChannelVoiceJoinManual(guildID, channelID, false, true)
		conn, err := voice.Connect(ctx, <-servers, <-states)
		if err != nil {
			return nil, err
		}
		go func() {
			for su := range servers { // region moves
				_ = conn.UpdateServer(ctx, su)
			}
		}()
		return conn, nil
	}
	_, _ = join, channelID
	// Output:
}
