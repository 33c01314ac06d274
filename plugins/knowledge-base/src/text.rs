//! Every string the plugin shows people, in Chinese and English, chosen by the caller's locale.
//! Messages people act on (refusals, confirmations) are named functions tested below; labels
//! are picked where they are used.

use tessera_sdk::Caller;

/// The strings of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    en: bool,
}

impl Text {
    pub fn new(en: bool) -> Text {
        Text { en }
    }

    /// The caller's language: English for `en`, Chinese otherwise.
    pub fn of(caller: &Caller) -> Text {
        Text::new(caller.is_english())
    }

    /// The text in this language.
    pub fn pick(self, zh: &str, en: &str) -> String {
        if self.en { en } else { zh }.to_owned()
    }

    pub fn kind(self, kind: &str) -> String {
        match kind {
            "qa" => self.pick("标准题库", "Q&A library"),
            "product" => self.pick("产品资料", "Product information"),
            "competitor" => self.pick("竞品资料", "Competitor information"),
            _ => self.pick("文章", "Articles"),
        }
    }

    pub fn kinds(self) -> Vec<(String, String)> {
        ["article", "qa", "product", "competitor"].iter().map(|k| ((*k).to_owned(), self.kind(k))).collect()
    }

    pub fn everyone(self) -> String {
        self.pick("所有人", "Everyone")
    }

    // ----- Refusals -----

    /// A category, article or answer the user may not read: said as "not found", so that its
    /// existence is not revealed.
    pub fn not_found(self) -> String {
        self.pick("没有找到该内容，或您无权查看。", "Not found, or you may not see it.")
    }

    pub fn cannot_edit(self) -> String {
        self.pick(
            "您没有编辑此分类内容的权限，请联系管理员。",
            "You may not change what this category holds; ask an administrator.",
        )
    }

    pub fn admins_only_change(self) -> String {
        self.pick("只有管理员可以管理知识分类。", "Only administrators manage the categories.")
    }

    pub fn title_required(self) -> String {
        self.pick("请填写标题。", "Give it a title.")
    }

    pub fn too_long(self, what: &str, max: usize) -> String {
        if self.en {
            format!("The {what} is longer than {max} characters.")
        } else {
            format!("{what}超过 {max} 个字符。")
        }
    }

    pub fn name_required(self) -> String {
        self.pick("请填写名称。", "Give it a name.")
    }

    pub fn kind_required(self) -> String {
        self.pick("请选择类型。", "Choose a kind.")
    }

    pub fn category_required(self) -> String {
        self.pick("请选择分类。", "Choose a category.")
    }

    pub fn question_required(self) -> String {
        self.pick("请填写问题。", "Write the question.")
    }

    pub fn answer_required(self) -> String {
        self.pick("请填写标准答案。", "Write the standard answer.")
    }

    pub fn wrong_kind(self) -> String {
        self.pick(
            "标准问答只能放在“标准题库”类型的分类中，文章不能放在其中。",
            "Standard answers go into categories of the kind Q&A library, and articles into the other kinds.",
        )
    }

    pub fn parent_loop(self) -> String {
        self.pick("上级分类不能是它自己或它的下级。", "A category cannot sit under itself or under one of its own.")
    }

    pub fn category_not_empty(self) -> String {
        self.pick(
            "该分类下还有内容或下级分类，请先移走或删除它们。",
            "The category still holds content or categories; move or delete them first.",
        )
    }

    pub fn conflict(self) -> String {
        self.pick(
            "文章已被他人修改，请重新打开后再保存。",
            "Someone changed the article meanwhile; open it again and save once more.",
        )
    }

    pub fn no_such_version(self, v: i64) -> String {
        if self.en { format!("The article has no version {v}.") } else { format!("文章没有第 {v} 版。") }
    }

    pub fn file_required(self) -> String {
        self.pick("请选择要上传的文件。", "Choose a file to upload.")
    }

    /// A file above the organisation's limit.
    pub fn file_too_big(self, name: &str, size: &str, max_mb: f64) -> String {
        if self.en {
            format!("\"{name}\" ({size}) is larger than the {max_mb} MB an attachment may be.")
        } else {
            format!("“{name}”（{size}）超过了附件大小上限 {max_mb} MB。")
        }
    }

    pub fn customer_required(self) -> String {
        self.pick("请从客户页面打开。", "Open it from a customer's page.")
    }

    // ----- Confirmations -----

    pub fn restored(self, from: i64, new: i64) -> String {
        if self.en {
            format!("Version {from} restored as version {new}.")
        } else {
            format!("已将第 {from} 版恢复为第 {new} 版。")
        }
    }

    pub fn restore_note(self, from: i64) -> String {
        if self.en { format!("Restored from version {from}") } else { format!("恢复自第 {from} 版") }
    }

    pub fn uploaded(self, name: &str) -> String {
        if self.en { format!("\"{name}\" attached.") } else { format!("已上传附件“{name}”。") }
    }

    pub fn deleted(self) -> String {
        self.pick("已删除。", "Deleted.")
    }

    pub fn saved(self) -> String {
        self.pick("已保存。", "Saved.")
    }

    /// An answer inserted into a customer's follow-ups.
    pub fn inserted(self, customer: &str) -> String {
        if self.en {
            format!("Added to the follow-ups of {customer}.")
        } else {
            format!("已插入客户“{customer}”的跟进记录。")
        }
    }

    /// The follow-up's first line.
    pub fn follow_up_prefix(self) -> String {
        self.pick("【标准答案】", "[Standard answer] ")
    }

    pub fn unchanged_lines(self, n: usize) -> String {
        if self.en { format!("… {n} unchanged lines …") } else { format!("… {n} 行未改动 …") }
    }

    pub fn diff_summary(self, added: usize, removed: usize) -> String {
        if self.en {
            format!("{added} lines added, {removed} lines removed.")
        } else {
            format!("新增 {added} 行，删除 {removed} 行。")
        }
    }

    pub fn no_results(self, q: &str) -> String {
        if self.en {
            format!("Nothing found for \"{q}\".")
        } else {
            format!("没有找到与“{q}”相关的内容。")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_in_both_languages() {
        let (zh, en) = (Text::new(false), Text::new(true));
        assert_eq!(zh.restored(1, 4), "已将第 1 版恢复为第 4 版。");
        assert_eq!(en.restored(1, 4), "Version 1 restored as version 4.");
        assert_eq!(zh.file_too_big("a.pdf", "1.5 MB", 1.0), "“a.pdf”（1.5 MB）超过了附件大小上限 1 MB。");
        assert_eq!(
            en.file_too_big("a.pdf", "1.5 MB", 1.0),
            "\"a.pdf\" (1.5 MB) is larger than the 1 MB an attachment may be."
        );
        assert_eq!(zh.inserted("北京星河"), "已插入客户“北京星河”的跟进记录。");
        assert_eq!(en.kind("competitor"), "Competitor information");
        assert_eq!(zh.diff_summary(2, 1), "新增 2 行，删除 1 行。");
    }
}
