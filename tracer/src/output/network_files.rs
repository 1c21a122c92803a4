//! The original script's extra files of the network layer (`01_network_layer/`):
//! `network_perf_report.txt` and `network_hotspots.txt` (top 30) of the layer's samples, and
//! `network_shares.txt` (send/recv, getConnection and serialisation share per node).

use anyhow::Result;

use crate::analyse::cpu::{self, DEFAULT_HOTSPOTS};
use crate::analyse::findings::Finding;
use crate::analyse::layers;
use crate::model::{Snapshot, StackRecord};
use crate::output::findings_text::findings_text;
use crate::output::layout::{self, Rendered};

/// The files, when the profile has a `network` layer.
pub fn render(snapshot: &Snapshot, found: &[Finding]) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    let Some(f) = layout::layer_folder(snapshot, "network") else {
        return Ok(out);
    };
    if let Some(p) = &snapshot.profile {
        let stacks: Vec<&StackRecord> = layers::stacks_in_layer(snapshot, "network").collect();
        let costs = cpu::symbol_costs(stacks.iter().copied());
        out.push(Rendered::new(
            format!("{f}/network_perf_report.txt"),
            cpu::perf_report(&costs, p.freq_hz),
        ));
        out.push(Rendered::new(
            format!("{f}/network_hotspots.txt"),
            cpu::hotspots(&costs, DEFAULT_HOTSPOTS),
        ));
    }
    out.push(Rendered::new(
        format!("{f}/network_shares.txt"),
        findings_text(
            snapshot,
            found,
            &[
                "network.send_recv_share",
                "network.get_connection_share",
                "network.serialize_share",
            ],
        ),
    ));
    Ok(out)
}
