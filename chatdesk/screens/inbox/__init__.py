"""The inbox screen's parts, one module per section (loading, read state, drafts, sending,
outgoing message actions, navigation); ``chatdesk.screens.main.MainScreen`` combines them."""
