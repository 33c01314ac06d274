//! Every string the forum shows people, in Chinese and English, chosen by the caller's locale.
//! Messages people act on (refusals, confirmations) are named functions tested below; labels are
//! picked where they are used. Notifications go to colleagues whose language the plugin does not
//! know, so they carry both languages.

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

    pub fn of(caller: &Caller) -> Text {
        Text::new(caller.is_english())
    }

    /// The text in this language.
    pub fn pick(self, zh: &str, en: &str) -> String {
        if self.en { en } else { zh }.to_owned()
    }

    // ----- Refusals and validation -----

    pub fn no_such_board(self) -> String {
        self.pick("版块不存在，或您无权查看。", "There is no such board, or you may not see it.")
    }

    pub fn no_such_thread(self) -> String {
        self.pick("帖子不存在，或您无权查看。", "There is no such thread, or you may not see it.")
    }

    pub fn no_such_reply(self) -> String {
        self.pick("回复不存在，或已被删除。", "There is no such reply, or it was deleted.")
    }

    pub fn choose_board(self) -> String {
        self.pick("请选择版块。", "Choose a board.")
    }

    pub fn title_required(self) -> String {
        self.pick("请填写标题。", "Give the thread a title.")
    }

    pub fn title_too_long(self, max: usize) -> String {
        if self.en { format!("A title has at most {max} characters.") } else { format!("标题最多 {max} 个字。") }
    }

    pub fn body_required(self) -> String {
        self.pick("请填写内容。", "Write something first.")
    }

    pub fn body_too_long(self, max: usize, got: usize) -> String {
        if self.en {
            format!(
                "The text is {got} characters long; at most {max} are allowed. Shorten it or split it into several replies."
            )
        } else {
            format!("内容共 {got} 个字，超过了 {max} 字的上限，请删减或分成几条回复。")
        }
    }

    pub fn no_such_customer(self) -> String {
        self.pick("客户不存在，或您无权查看该客户。", "There is no such customer, or you may not see them.")
    }

    pub fn locked(self) -> String {
        self.pick("本帖已锁定，不能再回复。", "This thread is locked; no more replies.")
    }

    pub fn moderators_only(self) -> String {
        self.pick("只有本版版主和管理员可以这样做。", "Only the board's moderators and administrators may do this.")
    }

    pub fn authors_only(self) -> String {
        self.pick("只能编辑或删除自己的回复。", "You may only edit or delete your own replies.")
    }

    pub fn query_too_long(self, max: usize) -> String {
        if self.en {
            format!("Search for at most {max} characters.")
        } else {
            format!("搜索词最多 {max} 个字。")
        }
    }

    pub fn keyword_required(self) -> String {
        self.pick("请填写关键词。", "Give a keyword.")
    }

    pub fn keyword_too_long(self, max: usize) -> String {
        if self.en {
            format!("A keyword has at most {max} characters.")
        } else {
            format!("关键词最多 {max} 个字。")
        }
    }

    pub fn board_name_required(self) -> String {
        self.pick("请填写版块名称。", "Give the board a name.")
    }

    pub fn board_not_empty(self, threads: usize) -> String {
        if self.en {
            format!("The board still has {threads} thread(s); move or delete them first.")
        } else {
            format!("该版块还有 {threads} 个帖子，请先移动或删除。")
        }
    }

    pub fn same_board(self) -> String {
        self.pick("帖子已在该版块。", "The thread is in that board already.")
    }

    // ----- Confirmations -----

    pub fn replied(self) -> String {
        self.pick("已回复。", "Reply posted.")
    }

    pub fn pinned(self, on: bool) -> String {
        match (on, self.en) {
            (true, false) => "已置顶。".into(),
            (false, false) => "已取消置顶。".into(),
            (true, true) => "Pinned.".into(),
            (false, true) => "Unpinned.".into(),
        }
    }

    pub fn locked_now(self, on: bool) -> String {
        match (on, self.en) {
            (true, false) => "已锁定，不能再回复。".into(),
            (false, false) => "已解锁，可以回复了。".into(),
            (true, true) => "Locked: no more replies.".into(),
            (false, true) => "Unlocked: replies are open again.".into(),
        }
    }

    pub fn moved(self, board: &str) -> String {
        if self.en { format!("Moved to “{board}”.") } else { format!("已移动到「{board}」。") }
    }

    pub fn reply_deleted(self) -> String {
        self.pick("回复已删除。", "The reply was deleted.")
    }

    pub fn subscribed_board(self, board: &str) -> String {
        if self.en {
            format!("Subscribed to “{board}”: you will be told of its new threads.")
        } else {
            format!("已订阅「{board}」，有新帖时会通知您。")
        }
    }

    pub fn unsubscribed(self) -> String {
        self.pick("已取消订阅。", "Unsubscribed.")
    }

    pub fn subscribed_keyword(self, keyword: &str) -> String {
        if self.en {
            format!("Subscribed to “{keyword}”: you will be told of new threads and replies containing it.")
        } else {
            format!("已订阅关键词「{keyword}」，有包含它的新帖或回复时会通知您。")
        }
    }

    pub fn board_saved(self, name: &str) -> String {
        if self.en { format!("Board “{name}” saved.") } else { format!("已保存版块「{name}」。") }
    }

    pub fn board_deleted(self) -> String {
        self.pick("版块已删除。", "The board was deleted.")
    }

    // ----- Labels of lists -----

    pub fn new_thread_mark(self) -> String {
        self.pick("新帖", "New")
    }

    pub fn new_replies(self, n: i64) -> String {
        if self.en { format!("{n} new") } else { format!("{n} 条新回复") }
    }

    pub fn pinned_mark(self) -> String {
        self.pick("置顶", "Pinned")
    }

    pub fn locked_mark(self) -> String {
        self.pick("锁定", "Locked")
    }

    pub fn everyone(self) -> String {
        self.pick("所有人", "Everyone")
    }

    pub fn replies_heading(self, n: i64) -> String {
        if self.en { format!("Replies ({n})") } else { format!("回复（{n}）") }
    }

    pub fn edited(self) -> String {
        self.pick("（已编辑）", " (edited)")
    }

    pub fn results(self, what: &str, query: &str) -> String {
        if self.en { format!("{what} matching “{query}”") } else { format!("包含「{query}」的{what}") }
    }
}

/// A notification's title, in both languages: `张伟 在帖子中提到了您 / 张伟 mentioned you: …`.
pub fn notification_title(reason: Reason, who: &str, title: &str) -> String {
    let title: String = title.chars().take(60).collect();
    match reason {
        Reason::Mention => format!("{who} 在帖子中提到了您 / {who} mentioned you: {title}"),
        Reason::Participant => format!("{who} 回复了您参与的帖子 / {who} replied in a thread you joined: {title}"),
        Reason::Board => format!("{who} 在您订阅的版块发了新帖 / New thread by {who} in a board you follow: {title}"),
        Reason::Keyword => format!("{who} 的帖子含有您订阅的关键词 / {who} posted about a keyword you follow: {title}"),
    }
}

/// Why someone is told of a post; the first that applies wins, one notification per post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Mention,
    Participant,
    Board,
    Keyword,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_people_act_on_exist_in_both_languages() {
        let (zh, en) = (Text::new(false), Text::new(true));
        assert_eq!(zh.locked(), "本帖已锁定，不能再回复。");
        assert_eq!(en.locked(), "This thread is locked; no more replies.");
        assert_eq!(
            zh.body_too_long(20_000, 20_001),
            "内容共 20001 个字，超过了 20000 字的上限，请删减或分成几条回复。"
        );
        assert!(en.body_too_long(20_000, 20_001).starts_with("The text is 20001 characters long"));
        assert_eq!(zh.moved("售后"), "已移动到「售后」。");
        assert_eq!(en.new_replies(3), "3 new");
    }

    #[test]
    fn notifications_carry_both_languages() {
        let t = notification_title(Reason::Mention, "张伟", "售后服务流程");
        assert_eq!(t, "张伟 在帖子中提到了您 / 张伟 mentioned you: 售后服务流程");
    }
}
