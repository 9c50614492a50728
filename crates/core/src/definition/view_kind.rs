//! The `view` kind's fields (interactive workflows only): the view's `title` and
//! `description`, its typed `form` (written as a `user` task's), and the `output` mapping of a
//! submission into process data (as a `user` task's `output`, over `output`).

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Spanned;

use super::compiled::ViewSpec;
use super::controls::{scalar, ControlParser};

impl ControlParser<'_, '_> {
    pub(super) fn view_task(
        &mut self,
        id: &Spanned<String>,
        name: Option<&str>,
        task: &MarkedMappingNode,
    ) -> Option<ViewSpec> {
        let title = match task.get_node("title") {
            None => Some(name.unwrap_or(id.as_str()).to_owned()),
            Some(n) => self.plain_text(n, "title"),
        };
        let description = match task.get_node("description") {
            None => Some(None),
            Some(n) => self.plain_text(n, "description").map(Some),
        };
        let form = match task.get_node("form") {
            Some(n) => self.form(n),
            None => Some(Vec::new()),
        };
        let output = match task.get_node("output") {
            Some(n) => self.mapping(n, "output", true).map(Some),
            None => Some(None),
        };
        Some(ViewSpec {
            title: title?,
            description: description?,
            form: form?,
            output: output?,
        })
    }

    fn plain_text(&mut self, node: &marked_yaml::Node, field: &str) -> Option<String> {
        match scalar(node) {
            Some(text) => Some(text.to_owned()),
            None => {
                self.error(node, format!("`{field}` is text"), None);
                None
            }
        }
    }
}
