/// Who asks the control plane for something, in the federation's terms (the HTTP edge derives
/// it from the request's credential).
public enum Requester: Sendable, Equatable {
    /// The federation's operator (the admin credential).
    case `operator`
    /// A node, with its own credential; it acts for itself only.
    case node(String)
}
