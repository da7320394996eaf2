import FuseModel

// Moving the master: the endpoint where nodes find it changes while it runs.
extension ControlPlane {
    /// Writes changed settings to `state`'s config.json from now on.
    public func persistSettings(in state: MasterState) {
        settingsFiles.withLock { $0 = state }
    }

    /// Sets where nodes find the master (`fuse master set-endpoint`): stored, then pushed in
    /// every worker's map (its hub's endpoint), so that nodes dial the new address from now
    /// on and look for the control plane there; new join strings name it too. The same
    /// endpoint again changes nothing.
    public func setEndpoint(_ requested: String) async throws -> API.EndpointInfo {
        let host: String
        do { host = try NameRule.host(requested) } catch { throw SettingsError.invalidEndpoint("\(error)") }
        let old = config.endpoint
        if host != old {
            var updated = config
            updated.endpoint = host
            if let state = settingsFiles.withLock({ $0 }) { try state.save(updated) }
            settings.withLock { $0 = updated }
            // The endpoint is not in the store: a new version makes every map carry it.
            _ = try await stored { try $0.bumpMapVersion() }
            try await changed()
            logger.notice("the master's endpoint changed; nodes follow it", metadata: ["from": "\(old)", "to": "\(host)"])
        }
        let current = config
        return API.EndpointInfo(endpoint: current.endpoint, previous: old, apiPort: current.apiPort, wireGuardPort: current.wireGuardPort,
                                mapVersion: distribution.current.version)
    }
}
